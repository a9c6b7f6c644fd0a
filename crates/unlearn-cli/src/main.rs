//! `unlearn`: machine unlearning experiments from the command line. Only glue: every piece of
//! work is done by the library crates.

mod commands;
mod common;
mod hints;

use clap::{Parser, Subcommand};

/// Make trained models forget data, and measure how well they did.
#[derive(Parser)]
#[command(name = "unlearn", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The whole comparison on the embedded dataset: every method, KLoM, report and plot.
    Bench(commands::bench::BenchArgs),
    /// Training throughput: zoos stacked vs one at a time, CNN samples/s, where the time goes.
    BenchSpeed(commands::bench_speed::BenchSpeedArgs),
    /// Train a zoo of models (originals, oracles or subset models) and save their logits.
    Train(commands::train::TrainArgs),
    /// Draw random training subsets (for datamodels) and save them as a mask file.
    Masks(commands::masks::MasksArgs),
    /// Draw a forget set (random or from given classes) and save it as an index file.
    ForgetSet(commands::forget_set::ForgetSetArgs),
    /// Make the models of a zoo forget a set of points with one unlearning method (a zoo
    /// unlearned before takes further requests: the chain is kept).
    Forget(commands::forget::ForgetArgs),
    /// The chain of deletion requests behind an unlearned zoo, back to the trained originals.
    History(commands::history::HistoryArgs),
    /// Estimate data attribution (datamodels) from a zoo of subset models; `attribute lds` compares estimators.
    Attribute(commands::attribute::AttributeArgs),
    /// Score unlearned models against retrained oracles: KLoM, accuracy gaps, membership inference.
    Eval(commands::eval::EvalArgs),
    /// The convex experiment: why matching outputs unlearns where descent on the retain set cannot.
    Linear(commands::linear::LinearArgs),
    /// Join the shard directories of a `--shard I/N` run into one zoo or attribution.
    Merge(commands::merge::MergeArgs),
    /// Check a zoo or run directory: re-hash every artifact against its manifest, find leftovers.
    Verify(commands::verify::VerifyArgs),
    /// Turn a directory of PyTorch or safetensors checkpoints into a zoo (originals or oracles).
    Import(commands::import::ImportArgs),
    /// Write a zoo's models as safetensors files that PyTorch loads with strict=True.
    Export(commands::import::ExportArgs),
    /// What a deletion request achieved, without oracles: accuracy and MIA before and after,
    /// predicted against achieved outputs on the forget set, cost.
    Audit(commands::audit::AuditArgs),
}

/// Stacked training allocates and frees megabyte-sized activations every step; glibc returns
/// such blocks to the kernel each time (mmap/munmap), and the page faults cost more than the
/// arithmetic. Keeping them in the heap measured ~2× faster for stacks of 64 MLPs. The top pad
/// keeps the worker threads' arenas too: without it glibc unmaps an arena's 64 MiB heaps
/// whenever a step leaves them empty (the Fashion-MNIST CNN's zoo: 5.3 → 2.1 million page
/// faults, ~12 % faster).
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}

/// Output piped into `head` or `less` that closes early ends the program quietly, as for any
/// Unix tool, instead of `println!` panicking on the broken pipe.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: resets one signal's disposition to the default before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() {
    restore_sigpipe();
    tune_allocator();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            // One line: clap's first paragraph names the problem (missing arguments are listed
            // on the lines after its first); the rest is usage boilerplate.
            // clap's "tip:" lines (a similar argument or value exists) name the fix: keep them.
            let text = e.to_string();
            let first: Vec<&str> = text
                .lines()
                .map(str::trim)
                .take_while(|l| !l.is_empty())
                .collect();
            let first = if first.is_empty() {
                "error: invalid arguments".to_string()
            } else {
                first.join(" ")
            };
            let tips: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| l.starts_with("tip:"))
                .collect();
            if tips.is_empty() {
                eprintln!("{first} (see --help)");
            } else {
                eprintln!("{first} ({}; see --help)", tips.join("; "));
            }
            std::process::exit(2);
        }
    };
    let result = match cli.command {
        Command::Bench(args) => commands::bench::run(args),
        Command::BenchSpeed(args) => commands::bench_speed::run(args),
        Command::Train(args) => commands::train::run(args),
        Command::Masks(args) => commands::masks::run(args),
        Command::ForgetSet(args) => commands::forget_set::run(args),
        Command::Linear(args) => commands::linear::run(args),
        Command::Eval(args) => commands::eval::run(args),
        Command::Attribute(args) => commands::attribute::run(args),
        Command::Forget(args) => commands::forget::run(args),
        Command::History(args) => commands::history::run(args),
        Command::Merge(args) => commands::merge::run(args),
        Command::Verify(args) => commands::verify::run(args),
        Command::Import(args) => commands::import::run_import(args),
        Command::Export(args) => commands::import::run_export(args),
        Command::Audit(args) => commands::audit::run(args),
    };
    if let Err(error) = result {
        // One line: the chain of causes joined, so the cause and the fix stay together.
        let mut parts: Vec<String> = Vec::new();
        for cause in error.chain().map(|e| e.to_string()) {
            // Errors that already print their source would otherwise repeat it.
            if !parts.last().is_some_and(|last| last.ends_with(&cause)) {
                parts.push(cause);
            }
        }
        let message = parts.join(": ");
        match hints::flag_hint(&error) {
            Some(flag) => eprintln!("error: {message} ({flag})"),
            None => eprintln!("error: {message}"),
        }
        std::process::exit(2);
    }
}
