//! qmgrd: qmgr's service (DESIGN §8). Under construction (issue 22).

fn main() {
    eprintln!("qmgrd: not built yet");
    std::process::exit(1);
}
