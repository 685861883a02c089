//! Cost of one argon2id hash and one verification with the parameters easbox stores passwords
//! with, and of a verified-cache hit, so the figures can be compared with the target board.
//!
//! Run: `cargo bench --bench auth` (optimised build). Nothing here asserts a speed.

use easbox::auth::{
    ARGON2_M_COST_KIB, ARGON2_P_COST, ARGON2_T_COST, DEFAULT_CACHE_TTL_SECS, Secret, VerifiedCache,
    hash_password, verify_password,
};
use std::hint::black_box;
use std::time::Instant;

const RUNS: u32 = 10;

fn main() {
    let pw = Secret::new(String::from("correct horse battery staple"));
    println!(
        "argon2id m={ARGON2_M_COST_KIB} KiB, t={ARGON2_T_COST}, p={ARGON2_P_COST}, {RUNS} runs"
    );

    let start = Instant::now();
    let mut hash = None;
    for _ in 0..RUNS {
        hash = Some(black_box(hash_password(&pw)));
    }
    let per_hash = start.elapsed() / RUNS;
    println!("hash_password:   {:>8.1} ms", per_hash.as_secs_f64() * 1e3);

    let Some(Ok(hash)) = hash else {
        eprintln!("hashing failed");
        std::process::exit(1);
    };
    let start = Instant::now();
    for _ in 0..RUNS {
        black_box(verify_password(&hash, &pw));
    }
    let per_verify = start.elapsed() / RUNS;
    println!(
        "verify_password: {:>8.1} ms",
        per_verify.as_secs_f64() * 1e3
    );

    let Ok(mut cache) = VerifiedCache::new(DEFAULT_CACHE_TTL_SECS) else {
        eprintln!("no random key");
        std::process::exit(1);
    };
    cache.insert("anna", &pw, 0);
    let hits: u32 = 100_000;
    let start = Instant::now();
    for _ in 0..hits {
        black_box(cache.check("anna", &pw, 1));
    }
    let per_hit = start.elapsed() / hits;
    println!("cache hit:       {:>8.3} µs", per_hit.as_secs_f64() * 1e6);
}
