//! Compiles `proto/greeter.proto` with tonic's code generator, using the `protoc` that
//! `protoc-bin-vendored` ships (nothing to install on the machine).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // The build script is single-threaded: nothing reads the environment concurrently.
    std::env::set_var("PROTOC", protoc);
    println!("cargo:rerun-if-changed=proto/greeter.proto");
    tonic_prost_build::configure().compile_protos(&["proto/greeter.proto"], &["proto"])?;
    Ok(())
}
