// Keeps `embed_migrations!` fresh: a new or edited migration rebuilds the crate.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
