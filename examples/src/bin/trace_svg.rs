//! Draws a trace written by a traced proc (`VEO_TRACE=FILE`, Chrome
//! trace-event JSON) as an SVG timeline: a row per context, a box per
//! request (its time on the VE), kernels and transfers in two colours.
//! For a look without a trace viewer; Perfetto and `chrome://tracing`
//! open the JSON itself.
//!
//! ```text
//! VEO_TRACE=trace.json cargo run --release -p veo-examples --bin async_pipeline
//! cargo run --release -p veo-examples --bin trace_svg -- trace.json trace.svg
//! ```

use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = &args[..] else {
        eprintln!("usage: trace_svg TRACE.json OUT.svg");
        return ExitCode::from(2);
    };
    match draw(input, output) {
        Ok(n) => {
            println!("{n} requests drawn to {output}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("trace_svg: {e}");
            ExitCode::FAILURE
        }
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn draw(input: &str, output: &str) -> Result<usize, Box<dyn std::error::Error>> {
    let json: Value = serde_json::from_str(&std::fs::read_to_string(input)?)?;
    let events = json["traceEvents"]
        .as_array()
        .ok_or("no traceEvents array: not a Chrome trace")?;
    let mut names: BTreeMap<u64, String> = BTreeMap::new();
    let mut boxes = Vec::new();
    for e in events {
        let tid = e["tid"].as_u64().unwrap_or(0);
        match e["ph"].as_str() {
            Some("M") if e["name"] == "thread_name" => {
                names.insert(tid, e["args"]["name"].as_str().unwrap_or("").to_string());
            }
            Some("X") => {
                let ts = e["ts"].as_f64().unwrap_or(0.0);
                let dur = e["dur"].as_f64().unwrap_or(0.0);
                let name = e["name"].as_str().unwrap_or("?").to_string();
                let kernel = e["cat"].as_str().unwrap_or("").to_string();
                let bytes = e["args"]["bytes"].as_u64().unwrap_or(0);
                boxes.push((tid, ts, dur, name, kernel, bytes));
            }
            _ => {}
        }
    }
    if boxes.is_empty() {
        return Err("the trace has no requests".into());
    }
    let rows: Vec<u64> = {
        let mut r: Vec<u64> = boxes.iter().map(|b| b.0).collect();
        r.sort_unstable();
        r.dedup();
        r
    };
    let t0 = boxes.iter().map(|b| b.1).fold(f64::INFINITY, f64::min);
    let t1 = boxes.iter().map(|b| b.1 + b.2).fold(0.0, f64::max);
    let span = (t1 - t0).max(1.0);
    let (left, width, row_h, top) = (150.0, 900.0, 34.0, 40.0);
    let height = top + row_h * rows.len() as f64 + 50.0;
    let mut svg = String::new();
    writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{height}" font-family="sans-serif" font-size="12">"#,
        w = left + width + 20.0
    )?;
    writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#)?;
    writeln!(
        svg,
        r#"<text x="10" y="22" font-size="14">{} requests on the VE, {:.1} ms; blue: kernels, orange: transfers, grey: other requests</text>"#,
        boxes.len(),
        span / 1000.0
    )?;
    for (i, tid) in rows.iter().enumerate() {
        let y = top + row_h * i as f64;
        let label = names
            .get(tid)
            .cloned()
            .unwrap_or_else(|| format!("track {tid}"));
        writeln!(
            svg,
            r#"<text x="10" y="{}">{}</text><line x1="{left}" x2="{}" y1="{}" y2="{}" stroke="lightgrey"/>"#,
            y + row_h * 0.6,
            escape(&label),
            left + width,
            y + row_h,
            y + row_h
        )?;
    }
    for (tid, ts, dur, name, kernel, bytes) in &boxes {
        let row = rows.iter().position(|r| r == tid).unwrap_or(0);
        let x = left + (ts - t0) / span * width;
        let w = (dur / span * width).max(0.5);
        let y = top + row_h * row as f64 + 4.0;
        let fill = match kernel.as_str() {
            "kernel" => "#4878d0",
            "transfer" => "#ee854a",
            _ => "#999999",
        };
        writeln!(
            svg,
            r#"<rect x="{x:.2}" y="{y:.1}" width="{w:.2}" height="{:.1}" fill="{fill}" stroke="white" stroke-width="0.3"><title>{} {:.1} us, {bytes} bytes</title></rect>"#,
            row_h - 8.0,
            escape(name),
            dur
        )?;
    }
    let axis_y = top + row_h * rows.len() as f64 + 20.0;
    for k in 0..=5 {
        let x = left + width * k as f64 / 5.0;
        writeln!(
            svg,
            r#"<text x="{x:.1}" y="{axis_y}" text-anchor="middle">{:.1} ms</text>"#,
            span / 1000.0 * k as f64 / 5.0
        )?;
    }
    writeln!(svg, "</svg>")?;
    std::fs::write(output, svg)?;
    Ok(boxes.len())
}
