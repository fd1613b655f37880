//! Make-style dependency files written by `-MMD -MF`.
//!
//! Parsed here: no well-kept crate reads them (the `cc` crate does not
//! track headers at all), and the format gcc, clang and ncc write is
//! narrow: rules, continuation lines, `\ ` and `$$` escapes.

use std::path::PathBuf;

/// The prerequisites listed in a depfile (every rule's right-hand side), in
/// order, without duplicates.
pub(crate) fn parse(text: &str) -> Vec<PathBuf> {
    // Join continuation lines, then split each rule at the first `: ` that
    // is not part of a path (targets never contain `: `).
    let joined = text.replace("\\\r\n", " ").replace("\\\n", " ");
    let mut deps: Vec<PathBuf> = Vec::new();
    for line in joined.lines() {
        let Some(colon) = find_rule_colon(line) else {
            continue;
        };
        for word in split_words(&line[colon + 1..]) {
            let p = PathBuf::from(word);
            if !deps.contains(&p) {
                deps.push(p);
            }
        }
    }
    deps
}

/// The colon that separates targets from prerequisites: followed by
/// whitespace or the end of the line (so `C:\x` and `a::b` are not it).
fn find_rule_colon(line: &str) -> Option<usize> {
    let b = line.as_bytes();
    (0..b.len()).find(|&i| b[i] == b':' && (i + 1 == b.len() || b[i + 1].is_ascii_whitespace()))
}

/// Splits on unescaped whitespace; `\ ` is a space in a name, `$$` a `$`.
fn split_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if matches!(chars.peek(), Some(' ') | Some('#')) => {
                cur.push(chars.next().unwrap_or(' '));
            }
            '$' if chars.peek() == Some(&'$') => {
                chars.next();
                cur.push('$');
            }
            c if c.is_whitespace() => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcc_depfile() {
        let text = "obj/avg.o: kernels/avg.c kernels/avg.h \\\n  /abs/dir\\ with\\ space/x.h \\\n kernels/avg.h\n\nkernels/avg.h:\n";
        let deps = parse(text);
        assert_eq!(
            deps,
            vec![
                PathBuf::from("kernels/avg.c"),
                PathBuf::from("kernels/avg.h"),
                PathBuf::from("/abs/dir with space/x.h"),
            ]
        );
    }

    #[test]
    fn dollar_and_empty() {
        assert_eq!(parse("a.o: $$x.h\n"), vec![PathBuf::from("$x.h")]);
        assert!(parse("").is_empty());
        assert!(parse("a.o:\n").is_empty());
    }
}
