fn main() {
    let code = outpost::cli::main();
    outpost::cli::exit(code)
}
