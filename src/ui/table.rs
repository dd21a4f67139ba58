//! Plain text tables: columns padded to their widest cell, two spaces apart, no trailing blanks.

/// The rows (the first one is usually the header), one line each, every line ending in `\n`.
#[must_use]
pub fn render<R: AsRef<[String]>>(rows: &[R]) -> String {
    let mut widths: Vec<usize> = Vec::new();
    for r in rows {
        for (i, cell) in r.as_ref().iter().enumerate() {
            let n = cell.chars().count();
            match widths.get_mut(i) {
                Some(w) => *w = (*w).max(n),
                None => widths.push(n),
            }
        }
    }
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .as_ref()
            .iter()
            .zip(widths.iter())
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_are_padded_to_the_widest_cell() {
        let rows = vec![
            vec!["NAME".to_string(), "STATE".to_string()],
            vec!["a-long-name".to_string(), "up".to_string()],
        ];
        assert_eq!(
            super::render(&rows),
            "NAME         STATE\na-long-name  up\n"
        );
    }
}
