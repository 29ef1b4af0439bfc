//! Baselines for the benchmarks: plain streams over the same buffers, so a
//! kernel's time can be given as a ratio measured in the same run.

/// Reads every score: 16 independent sums, so it runs at memory speed, not
/// at add latency.
pub fn read_stream(data: &[Vec<f32>]) -> f32 {
    let mut acc = [0.0f32; 16];
    for d in data {
        let (chunks, tail) = d.as_chunks::<16>();
        for c in chunks {
            for (a, x) in acc.iter_mut().zip(c) {
                *a += x;
            }
        }
        acc[0] += tail.iter().sum::<f32>();
    }
    acc.iter().sum()
}

/// Reads every score and writes one byte per score.
pub fn read_write_stream(data: &[Vec<f32>], out: &mut [Vec<u8>]) {
    for (d, o) in data.iter().zip(out) {
        for (x, m) in d.iter().zip(o.iter_mut()) {
            *m = (*x > 0.0) as u8;
        }
    }
}
