//! Run with `scripts/chaos.sh` (it starts what this drives and sets the
//! environment): the checker of the consistency suite, in
//! `phial_bench::chaos`.

#[tokio::main]
async fn main() {
    phial_bench::chaos::main().await;
}
