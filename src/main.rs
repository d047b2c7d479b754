use std::process::ExitCode;

// Requests allocate and free many small buffers across threads; mimalloc
// does that faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    mindgate::cli::main()
}
