//! A bad expression or declaration in `gradient!` is a compile error pointing at the string, with
//! the command line's caret message (the `.stderr` files are the reviewed messages).

#[test]
fn bad_input_is_a_compile_error() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
