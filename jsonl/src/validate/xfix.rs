//! Longest common prefix and suffix of a column in one streaming pass, as the old
//! `prepare_data` tool computed them (`get_common_xfix`, in characters), plus its check that the
//! common suffix does not also occur earlier inside a value.

/// Longest common prefix of every value added.
#[derive(Debug, Default)]
pub(crate) struct CommonPrefix {
    value: Option<String>,
    all_identical: bool,
}

impl CommonPrefix {
    pub(crate) fn add(&mut self, s: &str) {
        match &mut self.value {
            None => {
                self.value = Some(s.to_owned());
                self.all_identical = true;
            }
            Some(p) => {
                self.all_identical &= p.as_str() == s;
                let mut n = p.bytes().zip(s.bytes()).take_while(|(a, b)| a == b).count();
                while !p.is_char_boundary(n) {
                    n -= 1;
                }
                p.truncate(n);
            }
        }
    }

    /// The common prefix (empty before any value).
    pub(crate) fn value(&self) -> &str {
        self.value.as_deref().unwrap_or("")
    }

    /// Whether every value added was the same string.
    pub(crate) fn all_identical(&self) -> bool {
        self.value.is_some() && self.all_identical
    }
}

/// Longest common suffix of every value added, and for each candidate length the first line
/// whose value contains that suffix before its end.
///
/// The common suffix only shrinks, and a value that does not contain the `k`-byte suffix earlier
/// cannot contain a longer one earlier either, so each value costs a few substring searches.
#[derive(Debug, Default)]
pub(crate) struct CommonSuffix {
    value: Option<String>,
    all_identical: bool,
    /// `repeated[k]`: first line whose value holds the last `k` bytes of `value` before its end.
    repeated: Vec<Option<u64>>,
    /// The line after which no common suffix was left.
    broke_at: Option<u64>,
}

impl CommonSuffix {
    pub(crate) fn add(&mut self, s: &str, line: u64) {
        let value = match &mut self.value {
            None => {
                self.all_identical = true;
                self.repeated = vec![None; s.len() + 1];
                self.value.insert(s.to_owned())
            }
            Some(v) => {
                self.all_identical &= v.as_str() == s;
                let mut n =
                    v.bytes().rev().zip(s.bytes().rev()).take_while(|(a, b)| a == b).count();
                while !v.is_char_boundary(v.len() - n) {
                    n -= 1;
                }
                if n < v.len() {
                    v.drain(..v.len() - n);
                    self.repeated.truncate(n + 1);
                }
                if n == 0 && self.broke_at.is_none() {
                    self.broke_at = Some(line);
                }
                v
            }
        };
        let n = value.len();
        for k in 1..=n {
            if !value.is_char_boundary(n - k) {
                continue;
            }
            let suffix = &value.as_bytes()[n - k..];
            let before = &s.as_bytes()[..s.len() - k];
            if memchr::memmem::find(before, suffix).is_none() {
                break;
            }
            self.repeated[k].get_or_insert(line);
        }
    }

    /// The common suffix (empty before any value).
    pub(crate) fn value(&self) -> &str {
        self.value.as_deref().unwrap_or("")
    }

    /// Whether every value added was the same string.
    pub(crate) fn all_identical(&self) -> bool {
        self.value.is_some() && self.all_identical
    }

    /// The first line whose value contains the common suffix before its end.
    pub(crate) fn repeated_at(&self) -> Option<u64> {
        let n = self.value().len();
        if n == 0 {
            return None;
        }
        self.repeated[n]
    }

    /// The line at which the values stopped sharing any suffix.
    pub(crate) fn broke_at(&self) -> Option<u64> {
        self.broke_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The old tool's definition, written naively over all values at once.
    fn naive_suffix(values: &[&str]) -> (String, Option<usize>) {
        let first: Vec<char> = values[0].chars().collect();
        let mut k = 0;
        while k < first.len()
            && values.iter().all(|v| v.chars().rev().nth(k) == Some(first[first.len() - 1 - k]))
        {
            k += 1;
        }
        let suffix: String = first[first.len() - k..].iter().collect();
        let repeated = if suffix.is_empty() {
            None
        } else {
            values.iter().position(|v| {
                let before: String = v.chars().take(v.chars().count() - k).collect();
                before.contains(&suffix)
            })
        };
        (suffix, repeated)
    }

    #[test]
    fn suffix_and_repeats_match_the_naive_definition() {
        let cases: &[&[&str]] = &[
            &["a ->", "b ->", "c -> d ->"],
            &["great car ->", "bad car ->"],
            &["x ->", "y"],
            &["same", "same"],
            &["naïve é", "café é"],
            &["é", "e"],
            &["aaaa", "aaaa", "baa"],
            &["-> ->", "x ->"],
            &["tire END", "brake END", "END END"],
        ];
        for values in cases {
            let mut t = CommonSuffix::default();
            for (i, v) in values.iter().enumerate() {
                t.add(v, i as u64 + 1);
            }
            let (suffix, repeated) = naive_suffix(values);
            assert_eq!(t.value(), suffix, "{values:?}");
            assert_eq!(t.repeated_at(), repeated.map(|i| i as u64 + 1), "{values:?}");
            assert_eq!(t.all_identical(), values.iter().all(|v| *v == values[0]));
        }
    }

    #[test]
    fn prefix_stops_at_a_char_boundary() {
        let mut p = CommonPrefix::default();
        p.add("café au lait");
        p.add("cafè noir");
        assert_eq!(p.value(), "caf");
        assert!(!p.all_identical());
    }
}
