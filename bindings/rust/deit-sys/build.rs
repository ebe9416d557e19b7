//! Link flags for libdeit from `pkg-config --libs deit` (the program, not a
//! crate: crates.io is not reachable here). Point PKG_CONFIG_PATH at
//! `<prefix>/lib/pkgconfig` for a libdeit installed outside the system paths.
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_LIBDIR");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG");
    let program = std::env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".to_string());
    let output = match Command::new(&program).args(["--libs", "deit"]).output() {
        Ok(o) => o,
        Err(e) => panic!("deit-sys: cannot run `{program}` ({e}); install pkg-config"),
    };
    if !output.status.success() {
        panic!(
            "deit-sys: `{program} --libs deit` failed: {}\n\
             Install libdeit (cmake --install) and set PKG_CONFIG_PATH=<prefix>/lib/pkgconfig.",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let libs = String::from_utf8(output.stdout).expect("pkg-config printed non-UTF-8");
    let mut found = false;
    for flag in libs.split_whitespace() {
        if let Some(dir) = flag.strip_prefix("-L") {
            println!("cargo:rustc-link-search=native={dir}");
            // Dependents can read it as DEP_DEIT_LIBDIR (e.g. to set an rpath).
            println!("cargo:libdir={dir}");
        } else if let Some(lib) = flag.strip_prefix("-l") {
            println!("cargo:rustc-link-lib={lib}");
            found |= lib == "deit";
        } else {
            println!("cargo:warning=deit-sys: ignoring pkg-config flag {flag}");
        }
    }
    if !found {
        panic!("deit-sys: `{program} --libs deit` printed no -ldeit: {libs}");
    }
}
