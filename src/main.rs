use std::process::ExitCode;

fn main() -> ExitCode {
    mindgate::cli::main()
}
