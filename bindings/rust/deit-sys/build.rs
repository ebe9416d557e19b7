//! Link flags for libdeit from `pkg-config --libs deit` (the program, not a
//! crate: crates.io is not reachable here). Point PKG_CONFIG_PATH at
//! `<prefix>/lib/pkgconfig` for a libdeit installed outside the system paths.
//!
//! Also generates the layout test (`layouts_match_deit_h` in src/lib.rs): the
//! structs, enum constants and version macros are read from that deit.h, and
//! a C program built with it prints one assertion per struct size, field
//! offset and constant value, as the C compiler sees them.
use std::path::{Path, PathBuf};
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
    generate_layout_asserts(&program);
}

fn pkg_config_include_dirs(program: &str) -> Vec<PathBuf> {
    let output = Command::new(program)
        .args(["--cflags-only-I", "deit"])
        .output()
        .unwrap_or_else(|e| panic!("deit-sys: cannot run `{program}` ({e})"));
    let flags = String::from_utf8(output.stdout).expect("pkg-config printed non-UTF-8");
    let mut dirs: Vec<PathBuf> =
        flags.split_whitespace().filter_map(|f| f.strip_prefix("-I")).map(PathBuf::from).collect();
    dirs.push(PathBuf::from("/usr/include")); // pkg-config leaves out the system directory
    dirs
}

// deit.h without comments, with continued lines joined.
fn header_text(path: &Path) -> String {
    let raw = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("deit-sys: cannot read {}: {e}", path.display()));
    let mut out = String::new();
    let mut rest = raw.as_str();
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("*/").expect("deit.h: unterminated comment");
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out.replace("\\\n", " ")
}

fn identifier_at_end(s: &str) -> &str {
    let s = s.trim_end();
    let start = s.rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).map_or(0, |i| i + 1);
    &s[start..]
}

fn generate_layout_asserts(pkg_config: &str) {
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let dirs = pkg_config_include_dirs(pkg_config);
    let header = dirs
        .iter()
        .map(|d| d.join("deit/deit.h"))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("deit-sys: deit/deit.h is in none of {dirs:?}"));
    println!("cargo:rerun-if-changed={}", header.display());
    let text = header_text(&header);

    let mut c =
        String::from("#include <deit/deit.h>\n#include <stddef.h>\n#include <stdio.h>\nint main(void) {\n");
    let mut line = |fmt: &str, args: &str| {
        c.push_str(&format!("  printf(\"{fmt}\\n\", {args});\n"));
    };
    // Structs: size and every field's offset.
    let mut rest = text.as_str();
    while let Some(at) = rest.find("typedef struct ") {
        rest = &rest[at + "typedef struct ".len()..];
        let name = rest.split_whitespace().next().unwrap_or("");
        let Some(open) = rest.find('{') else { break };
        if rest[..open].contains(';') {
            continue; // an opaque handle: typedef struct deit_x deit_x;
        }
        let close = rest.find('}').expect("deit.h: struct without }");
        for field in rest[open + 1..close].split(';').map(str::trim).filter(|f| !f.is_empty()) {
            let f = identifier_at_end(field);
            line(
                &format!("assert_eq!(offset_of!({name}, {f}), %zu, \\\"{name}.{f}\\\");"),
                &format!("offsetof({name}, {f})"),
            );
        }
        line(
            &format!("assert_eq!(size_of::<{name}>(), %zu, \\\"sizeof({name})\\\");"),
            &format!("sizeof({name})"),
        );
        rest = &rest[close..];
    }
    // Enum constants.
    let mut rest = text.as_str();
    while let Some(at) = rest.find("typedef enum ") {
        rest = &rest[at..];
        let open = rest.find('{').expect("deit.h: enum without {");
        let close = rest.find('}').expect("deit.h: enum without }");
        for member in rest[open + 1..close].split(',') {
            let m = member.split('=').next().unwrap_or("").trim();
            if !m.is_empty() {
                line(&format!("assert_eq!({m} as i64, %lld, \\\"{m}\\\");"), &format!("(long long){m}"));
            }
        }
        rest = &rest[close..];
    }
    // Object-like macros with a value (the version).
    for l in text.lines().map(str::trim).filter(|l| l.starts_with("#define DEIT_VERSION_")) {
        let m = l["#define ".len()..].split_whitespace().next().unwrap_or("");
        line(&format!("assert_eq!({m} as i64, %lld, \\\"{m}\\\");"), &format!("(long long)({m})"));
    }
    c.push_str("  return 0;\n}\n");

    let source = out_dir.join("deit_layout.c");
    let exe = out_dir.join("deit_layout");
    std::fs::write(&source, c).expect("write deit_layout.c");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let mut build = Command::new(&cc);
    for d in &dirs {
        build.arg(format!("-I{}", d.display()));
    }
    let status = build.arg(&source).arg("-o").arg(&exe).status();
    match status {
        Ok(s) if s.success() => {}
        other => panic!(
            "deit-sys: `{cc}` could not build {} ({other:?}): the layout test needs a C compiler",
            source.display()
        ),
    }
    let output = Command::new(&exe).output().expect("run deit_layout");
    assert!(output.status.success(), "deit-sys: deit_layout failed");
    // One block: include! takes a single expression.
    let block =
        format!("{{\n{}}}\n", String::from_utf8(output.stdout).expect("deit_layout printed non-UTF-8"));
    std::fs::write(out_dir.join("layout_asserts.rs"), block).expect("write layout_asserts.rs");
}
