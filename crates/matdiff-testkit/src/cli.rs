//! Running a binary as a user does, for the command line's tests.

use std::ffi::OsStr;
use std::io::Write;
use std::process::{Command, Stdio};

/// Runs `binary` with `args`, writing `stdin` to its standard input; returns its exit code (-1
/// when killed by a signal), standard output and standard error.
///
/// ```
/// let (code, out, _) = matdiff_testkit::cli::run("echo", ["hello"], "");
/// assert_eq!((code, out.as_str()), (0, "hello\n"));
/// ```
pub fn run<I, A>(binary: &str, args: I, stdin: &str) -> (i32, String, String)
where
    I: IntoIterator<Item = A>,
    A: AsRef<OsStr>,
{
    let mut child = Command::new(binary)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{binary} does not start: {e}"));
    let mut input = child.stdin.take().expect("a pipe");
    let text = stdin.to_string();
    // Written from a thread, so that a large input cannot block against a full output pipe.
    let writer = std::thread::spawn(move || input.write_all(text.as_bytes()));
    let out = child.wait_with_output().expect("the binary ends");
    // A binary that does not read its input closes the pipe early: not an error here.
    let _ = writer.join().expect("the writer ends");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).expect("utf-8 on stdout"),
        String::from_utf8(out.stderr).expect("utf-8 on stderr"),
    )
}
