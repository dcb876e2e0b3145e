//! A small robots.txt reader (RFC 9309): the group for our product token, else `*`;
//! `Allow`/`Disallow` path prefixes with `*` and `$`; the longest match wins, `Allow` on a tie.

/// `(allow, pattern)` pairs.
type Rules = Vec<(bool, String)>;

/// The rules that apply to one user agent on one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Robots {
    rules: Rules,
}

impl Robots {
    /// Rules that allow everything (no robots.txt, or a 4xx answer for it).
    pub fn allow_all() -> Self {
        Self::default()
    }

    /// Rules that forbid everything (robots.txt unreachable with a 5xx answer).
    pub fn disallow_all() -> Self {
        Self { rules: vec![(false, "/".into())] }
    }

    /// Parses robots.txt for the product token `agent` (e.g. `partfinder-scrape`).
    pub fn parse(text: &str, agent: &str) -> Self {
        let agent = agent.to_lowercase();
        // (user agents, rules) per group.
        let mut groups: Vec<(Vec<String>, Rules)> = Vec::new();
        let mut in_agents = false;
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            let Some((key, value)) = line.split_once(':') else { continue };
            let (key, value) = (key.trim().to_lowercase(), value.trim());
            match key.as_str() {
                "user-agent" => {
                    if !in_agents {
                        groups.push((Vec::new(), Vec::new()));
                        in_agents = true;
                    }
                    if let Some(g) = groups.last_mut() {
                        g.0.push(value.to_lowercase());
                    }
                }
                "allow" | "disallow" => {
                    in_agents = false;
                    // An empty Disallow allows everything: it adds no rule.
                    if let (Some(g), false) = (groups.last_mut(), value.is_empty()) {
                        g.1.push((key == "allow", value.to_owned()));
                    }
                }
                _ => in_agents = false,
            }
        }
        let pick = |want: &dyn Fn(&str) -> bool| -> Rules {
            groups
                .iter()
                .filter(|(agents, _)| agents.iter().any(|a| want(a)))
                .flat_map(|(_, rules)| rules.iter().cloned())
                .collect()
        };
        let ours = groups.iter().any(|(agents, _)| agents.contains(&agent));
        let rules = if ours { pick(&|a| a == agent) } else { pick(&|a| a == "*") };
        Self { rules }
    }

    /// Whether `path` (path and query of a URL) may be fetched.
    pub fn allowed(&self, path: &str) -> bool {
        let mut best: Option<(usize, bool)> = None;
        for (allow, pattern) in &self.rules {
            if matches(pattern, path) {
                let len = pattern.len();
                best = match best {
                    Some((l, a)) if l > len || (l == len && a) => Some((l, a)),
                    _ => Some((len, *allow)),
                };
            }
        }
        best.is_none_or(|(_, allow)| allow)
    }
}

/// Whether a robots.txt path pattern matches `path` from its start.
fn matches(pattern: &str, path: &str) -> bool {
    let (pattern, anchored) = match pattern.strip_suffix('$') {
        Some(p) => (p, true),
        None => (pattern, false),
    };
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut rest = path;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else { return false };
            rest = r;
        } else if i == parts.len() - 1 && anchored {
            return rest.ends_with(part);
        } else {
            let Some(at) = rest.find(part) else { return false };
            rest = &rest[at + part.len()..];
        }
    }
    !anchored || rest.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_group_wins_over_star_and_longest_rule_wins() {
        let text = "User-agent: *\nDisallow: /\n\nUser-agent: partfinder-scrape\nDisallow: /private\nAllow: /private/ok\n";
        let r = Robots::parse(text, "partfinder-scrape");
        assert!(r.allowed("/wiki/List"));
        assert!(!r.allowed("/private/x"));
        assert!(r.allowed("/private/ok/page"));
        let other = Robots::parse(text, "somebot");
        assert!(!other.allowed("/wiki/List"));
    }

    #[test]
    fn wildcards_anchors_and_empty_disallow() {
        let r = Robots::parse("User-agent: *\nDisallow: /*.pdf$\nDisallow: /w/*action=edit\n", "x");
        assert!(!r.allowed("/files/a.pdf"));
        assert!(r.allowed("/files/a.pdf?x=1"));
        assert!(!r.allowed("/w/index.php?title=A&action=edit"));
        assert!(r.allowed("/wiki/A"));
        assert!(Robots::parse("User-agent: *\nDisallow:\n", "x").allowed("/anything"));
        assert!(!Robots::disallow_all().allowed("/"));
    }
}
