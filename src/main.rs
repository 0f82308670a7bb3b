//! `kubectl-modelroll`: parse the command line, run the command, exit with its code.

fn main() {
    std::process::exit(modelroll::main_entry());
}
