//! On wasm32 the stack is part of linear memory, 1 MiB by default: the engine recurses once per
//! level of nesting (up to `Limits::max_nesting`, sized for a 2 MiB native stack and more in a
//! derivation), so the module gets 8 MiB.

fn main() {
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg-cdylib=-zstack-size=8388608");
    }
}
