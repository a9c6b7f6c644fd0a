use std::path::Path;
fn main() {
    let d = Path::new("/tmp/evalplots");
    let series = vec![
        ("OM".to_string(), (0..200).map(|t| (t as f64, 0.9f64.powi(t))).collect()),
        ("GD".to_string(), (0..200).map(|t| (t as f64, 1.0 - 0.002 * t as f64)).collect()),
        ("GD+GA".to_string(), (0..200).map(|t| (t as f64, 0.5 + 0.5 * (-(t as f64) / 30.0).exp())).collect()),
    ];
    let f = unlearn_eval::plot_curves(&d.join("curves"), "Convex experiment", "step", "‖θ_t − θ_oracle‖ / ‖θ_0 − θ_oracle‖", &series, false, true).unwrap();
    println!("{f:?}");
    let pts = vec![
        ("Oracle Matching".to_string(), 0.05, 0.3), ("Gradient Ascent".to_string(), 0.1, 4.0),
        ("Oracle Matching".to_string(), 0.2, 0.2), ("Retrain".to_string(), 1.0, 0.25),
        ("SCRUB".to_string(), 0.3, 1.0), ("DM-Direct".to_string(), 0.01, 0.4),
        ("GD".to_string(), 0.5, 2.0), ("SalUn".to_string(), 0.25, 1.5), ("DEL".to_string(), 0.3, 0.9),
    ];
    let f = unlearn_eval::plot_scatter(&d.join("scatter"), "KLoM vs cost", "cost (fraction of retraining)", "P95 KLoM (forget)", &pts, true, false).unwrap();
    println!("{f:?}");
    let forget: Vec<f32> = (0..100).map(|i| (i as f32 * 0.37) % 11.5).collect();
    let retain: Vec<f32> = (0..500).map(|i| (i % 7) as f32 * 0.05).collect();
    let val = vec![0.1f32; 10];
    let f = unlearn_eval::plot_klom_histograms(&d.join("hist"), &[("forget", &forget), ("retain", &retain), ("validation", &val)]).unwrap();
    println!("{f:?}");
    let one = vec![("x".to_string(), 1.0, 1.0)];
    unlearn_eval::plot_scatter(&d.join("one"), "one point", "x", "y", &one, true, true).unwrap();
}
