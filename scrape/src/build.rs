//! Merging the names of all sources into one lexicon.
//!
//! Every spelling is filed under its [`fold_key`] (so `glowplug` and `glow plug` are one
//! node). Strong aliases (`Tire/Tyre`, `also called`, acronyms, the extra-aliases file) join
//! their nodes into one part; weak aliases (bare parentheticals) join only when the alias is
//! not a part of its own and exactly one part claims it. Each part's canonical name is, in
//! order of preference: a canonical named in the extra-aliases file, the first-listed name that
//! is not an acronym, the first-listed name.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use records::{Lexicon, LexiconEntry};

use crate::extract::Extracted;
use crate::normalize::{clean_name, fold_key, initials, is_acronym, parse_item, Link, Name};
use crate::report::{DropReason, Dropped, Report, SourceCount};
use crate::stoplist::StopList;
use crate::{Error, Result};

#[derive(Debug, Default)]
struct Node {
    /// Spelling → (first sequence number, sources).
    spellings: BTreeMap<String, (usize, BTreeSet<String>)>,
    categories: BTreeSet<String>,
    first_seq: usize,
    /// Listed as a part name by a source.
    primary: bool,
    /// Named as a canonical in the extra-aliases file.
    preferred: bool,
    /// Listed as a part or as a strong alias: a name the sources vouch for.
    asserted: bool,
    acronym: bool,
}

struct Edge {
    parent: String,
    alias: String,
    link: Link,
    source: String,
}

/// How a surface enters the lexicon.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Primary,
    Alias(Link),
    ExtraCanonical,
    ExtraAlias,
    /// A canonical of a reviewed lexicon file (`--lexicon-in`): a listed part, but not preferred
    /// over the names of earlier sources.
    ReviewedCanonical,
}

/// Collects the names of every source, then merges them into a [`Lexicon`].
pub struct Builder {
    stoplist: StopList,
    nodes: BTreeMap<String, Node>,
    edges: Vec<Edge>,
    seq: usize,
    report: Report,
}

impl Builder {
    /// A builder that drops the surfaces on `stoplist`.
    pub fn new(stoplist: StopList) -> Self {
        Self {
            stoplist,
            nodes: BTreeMap::new(),
            edges: Vec::new(),
            seq: 0,
            report: Report::default(),
        }
    }

    /// Adds the items of one source.
    pub fn add_source(&mut self, name: &str, origin: &str, extracted: Extracted) {
        let mut count = SourceCount {
            name: name.to_owned(),
            origin: origin.to_owned(),
            items: extracted.items.len(),
            names: 0,
        };
        for (text, section) in extracted.skipped {
            self.drop(name, text, DropReason::NonPartSection(section));
        }
        let mut parsed: Vec<(String, Vec<Name>)> = Vec::new();
        for item in extracted.items {
            let p = parse_item(&item.text);
            for (text, reason) in p.dropped {
                self.drop(name, text, reason);
            }
            parsed.push((item.category, p.names));
        }
        link_adjacent_acronyms(&mut parsed);
        for (category, names) in parsed {
            for n in names {
                let Some(parent) = self.add(&n.primary, name, &category, Role::Primary) else {
                    continue;
                };
                count.names += 1;
                for (alias, link) in n.aliases {
                    if let Some(alias) = self.add(&alias, name, &category, Role::Alias(link)) {
                        self.edges.push(Edge {
                            parent: parent.clone(),
                            alias,
                            link,
                            source: name.to_owned(),
                        });
                    }
                }
            }
        }
        self.report.sources.push(count);
    }

    /// Adds a reviewed extra-aliases file: CSV with header `alias,canonical` and `#` comment
    /// lines. Each alias becomes a surface of `canonical`'s part, and `canonical` becomes the
    /// part's canonical name (a canonical not found in any source is added as a new part).
    /// Short acronyms (`AC`) are allowed here, the stop-list still applies.
    ///
    /// # Errors
    /// The file cannot be read, its header is wrong, or a row has an empty field.
    pub fn add_extra_aliases(&mut self, path: &Path, source: &str) -> Result<()> {
        let text = records::text::read_text(path)?;
        let syntax =
            |line: u64, message: String| Error::Syntax { path: path.to_owned(), line, message };
        let mut rdr = csv::ReaderBuilder::new()
            .comment(Some(b'#'))
            .trim(csv::Trim::All)
            .flexible(false)
            .from_reader(text.as_bytes());
        let header = rdr.headers().map_err(|e| syntax(0, e.to_string()))?.clone();
        let names: Vec<&str> = header.iter().collect();
        // A reviewed candidates file (`finetune tag predict --candidates`): rows whose `accept`
        // is yes; its other columns (counts, contexts) are for the reviewer.
        let candidates = names.first() == Some(&"accept");
        let (alias_at, canonical_at) = if candidates { (1, 2) } else { (0, 1) };
        let wanted: &[&str] =
            if candidates { &["accept", "alias", "canonical"] } else { &["alias", "canonical"] };
        if names.get(..wanted.len()) != Some(wanted) || (!candidates && names.len() != 2) {
            let found = names.join(",");
            return Err(syntax(
                1,
                format!("expected header alias,canonical (or accept,alias,canonical,... for reviewed candidates), found {found}"),
            ));
        }
        let mut count = SourceCount {
            name: source.to_owned(),
            origin: path.display().to_string(),
            ..Default::default()
        };
        for record in rdr.records() {
            let record =
                record.map_err(|e| syntax(e.position().map_or(0, |p| p.line()), e.to_string()))?;
            let line = record.position().map_or(0, |p| p.line());
            if candidates {
                match record.get(0).unwrap_or("").to_ascii_lowercase().as_str() {
                    "yes" | "y" | "x" | "1" | "true" => {}
                    "" | "no" | "n" | "0" | "false" => continue,
                    other => {
                        return Err(syntax(
                            line,
                            format!("accept must be yes or no (or empty), found {other:?}"),
                        ))
                    }
                }
            }
            let (Some(alias), Some(canonical)) = (
                record.get(alias_at).and_then(clean_name),
                record.get(canonical_at).and_then(clean_name),
            ) else {
                return Err(syntax(line, "empty alias or canonical".into()));
            };
            count.items += 1;
            let Some(parent) = self.add(&canonical, source, "", Role::ExtraCanonical) else {
                continue;
            };
            count.names += 1;
            if alias != canonical {
                if let Some(alias) = self.add(&alias, source, "", Role::ExtraAlias) {
                    self.edges.push(Edge {
                        parent,
                        alias,
                        link: Link::Strong,
                        source: source.to_owned(),
                    });
                }
            }
        }
        self.report.sources.push(count);
        Ok(())
    }

    /// Adds an existing lexicon (`surface,canonical,category,source`, e.g. a hand-compiled
    /// one) as a source named `source`. Each canonical becomes a listed part with its category,
    /// and each other surface a strong alias of it. Names are cleaned like source names (lower
    /// case except acronyms, singular last word), the stop-list applies, and short acronyms are
    /// kept (the file is reviewed, like the extra aliases). Canonical names of earlier sources
    /// win over this file's when both name one part.
    pub fn add_lexicon(&mut self, lexicon: &Lexicon, source: &str, origin: &str) {
        let mut count = SourceCount {
            name: source.to_owned(),
            origin: origin.to_owned(),
            items: lexicon.len(),
            names: 0,
        };
        // Rows are sorted by surface; walk them by canonical so that each part's canonical is
        // filed before its aliases.
        let mut by_canonical: BTreeMap<&str, Vec<&LexiconEntry>> = BTreeMap::new();
        for e in lexicon.entries() {
            by_canonical.entry(e.canonical.as_str()).or_default().push(e);
        }
        for (canonical, rows) in by_canonical {
            let categories: BTreeSet<&str> = rows
                .iter()
                .flat_map(|e| e.category.split('|'))
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect();
            let category = categories.into_iter().collect::<Vec<_>>().join("|");
            let Some(name) = clean_name(canonical) else { continue };
            let Some(parent) = self.add(&name, source, &category, Role::ReviewedCanonical) else {
                continue;
            };
            count.names += 1;
            let mut aliases: BTreeSet<String> = BTreeSet::new();
            for e in rows {
                if let Some(alias) = clean_name(&e.surface).filter(|a| *a != name) {
                    aliases.insert(alias);
                }
            }
            for alias in aliases {
                if let Some(alias) = self.add(&alias, source, &category, Role::ExtraAlias) {
                    self.edges.push(Edge {
                        parent: parent.clone(),
                        alias,
                        link: Link::Strong,
                        source: source.to_owned(),
                    });
                }
            }
        }
        self.report.sources.push(count);
    }

    fn drop(&mut self, source: &str, text: String, reason: DropReason) {
        self.report.dropped.push(Dropped { source: source.to_owned(), text, reason });
    }

    /// Files one spelling; returns its key, or `None` when the stop-list or the acronym rule
    /// drops it.
    fn add(&mut self, spelling: &str, source: &str, category: &str, role: Role) -> Option<String> {
        if let Some(reason) = self.stoplist.reason(spelling) {
            let reason = DropReason::StopListed(reason.to_owned());
            self.drop(source, spelling.to_owned(), reason);
            return None;
        }
        let acronym = is_acronym(spelling);
        let extra =
            matches!(role, Role::ExtraAlias | Role::ExtraCanonical | Role::ReviewedCanonical);
        if acronym && spelling.len() < 3 && !extra {
            self.drop(source, spelling.to_owned(), DropReason::ShortAcronym);
            return None;
        }
        self.seq += 1;
        let key = fold_key(spelling);
        let node = self.nodes.entry(key.clone()).or_insert_with(|| Node {
            first_seq: self.seq,
            acronym,
            ..Default::default()
        });
        // A weak alias may yet be refused (it names a separate part): it records its source
        // only on a spelling of its own, and never a category.
        let weak = role == Role::Alias(Link::Weak);
        let known = node.spellings.contains_key(spelling);
        let entry =
            node.spellings.entry(spelling.to_owned()).or_insert((self.seq, BTreeSet::new()));
        if !(weak && known) {
            entry.1.insert(source.to_owned());
        }
        if !category.is_empty() && !weak {
            node.categories.insert(category.replace('|', "/"));
        }
        match role {
            Role::Primary | Role::ReviewedCanonical => node.primary = true,
            Role::ExtraCanonical => {
                node.primary = true;
                node.preferred = true;
            }
            Role::Alias(_) | Role::ExtraAlias => {}
        }
        if !weak {
            node.asserted = true;
        }
        Some(key)
    }

    /// Merges everything added into the lexicon.
    pub fn finish(mut self) -> (Lexicon, Report) {
        let keys: Vec<String> = self.nodes.keys().cloned().collect();
        let index: BTreeMap<&str, usize> =
            keys.iter().enumerate().map(|(i, k)| (k.as_str(), i)).collect();
        let mut uf = UnionFind::new(keys.len());
        let edges = std::mem::take(&mut self.edges);
        for e in edges.iter().filter(|e| e.link == Link::Strong) {
            uf.union(index[e.parent.as_str()], index[e.alias.as_str()]);
        }
        let nodes: Vec<&Node> = keys.iter().map(|k| &self.nodes[k]).collect();
        let group_has_primary = |uf: &mut UnionFind, i: usize| {
            let root = uf.find(i);
            (0..nodes.len()).any(|j| nodes[j].primary && uf.find(j) == root)
        };
        // Weak aliases: join only an alias group without a listed part, claimed by one part.
        let mut claims: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
        let mut drops = Vec::new();
        for e in edges.iter().filter(|e| e.link == Link::Weak) {
            let (p, a) = (index[e.parent.as_str()], index[e.alias.as_str()]);
            if uf.find(p) == uf.find(a) {
                continue;
            }
            if group_has_primary(&mut uf, a) {
                let spelling = first_spelling(nodes[a]);
                drops.push((e, spelling.clone(), DropReason::AliasIsPart(spelling)));
                continue;
            }
            let root = uf.find(a);
            claims.entry(root).or_default().insert(uf.find(p));
        }
        let mut orphaned = BTreeSet::new();
        for (alias_root, parents) in &claims {
            if parents.len() == 1 {
                let parent = *parents.iter().next().expect("one parent");
                uf.union(*alias_root, parent);
            } else {
                orphaned.insert(*alias_root);
            }
        }
        for (e, text, reason) in drops {
            self.report.dropped.push(Dropped { source: e.source.clone(), text, reason });
        }

        // Groups, in key order of their root.
        let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for i in 0..nodes.len() {
            groups.entry(uf.find(i)).or_default().push(i);
        }
        let mut entries = Vec::new();
        let mut canonical_count = 0;
        for (root, members) in groups {
            if orphaned.contains(&root) || !members.iter().any(|&i| nodes[i].asserted) {
                let parents: Vec<String> = edges
                    .iter()
                    .filter(|e| e.link == Link::Weak && members.contains(&index[e.alias.as_str()]))
                    .map(|e| first_spelling(&self.nodes[&e.parent]))
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                for &i in &members {
                    let text = first_spelling(nodes[i]);
                    let source = nodes[i].spellings.values().flat_map(|(_, s)| s).next().cloned();
                    self.report.dropped.push(Dropped {
                        source: source.unwrap_or_default(),
                        text,
                        reason: DropReason::AmbiguousAlias(parents.join(", ")),
                    });
                }
                continue;
            }
            let best = *members
                .iter()
                .min_by_key(|&&i| {
                    let n = nodes[i];
                    let spelled_out_part = n.primary && !n.acronym;
                    (!n.preferred, !spelled_out_part, !n.primary, n.first_seq)
                })
                .expect("non-empty group");
            let canonical = first_spelling(nodes[best]);
            let categories: BTreeSet<&str> = members
                .iter()
                .flat_map(|&i| nodes[i].categories.iter().map(String::as_str))
                .collect();
            let category = categories.into_iter().collect::<Vec<_>>().join("|");
            canonical_count += 1;
            for &i in &members {
                for (spelling, (_, sources)) in &nodes[i].spellings {
                    let source = sources.iter().cloned().collect::<Vec<_>>().join("|");
                    entries.push(LexiconEntry::new(spelling, &canonical, &category, source));
                }
            }
        }
        let lexicon = Lexicon::from_entries(entries);
        self.report.canonical = canonical_count;
        self.report.surfaces = lexicon.len();
        (lexicon, self.report)
    }
}

/// The spelling of a node seen first.
fn first_spelling(node: &Node) -> String {
    node.spellings
        .iter()
        .min_by_key(|(_, (seq, _))| *seq)
        .map(|(s, _)| s.clone())
        .unwrap_or_default()
}

/// Plain lists write an acronym on the line next to its expansion (`Body control module`,
/// `BCM`); such an acronym becomes a strong alias of the neighbouring name.
fn link_adjacent_acronyms(items: &mut [(String, Vec<Name>)]) {
    let len = items.len();
    for i in 0..len {
        let acronym = match items[i].1.as_slice() {
            [only] if is_acronym(&only.primary) && only.aliases.is_empty() => only.primary.clone(),
            _ => continue,
        };
        let neighbours = [i.checked_sub(1), Some(i + 1)];
        for j in neighbours.into_iter().flatten().filter(|&j| j < len) {
            let Some(first) = items[j].1.first_mut() else { continue };
            if !is_acronym(&first.primary) && initials(&first.primary) == acronym {
                if !first.aliases.iter().any(|(a, _)| a == &acronym) {
                    first.aliases.push((acronym.clone(), Link::Strong));
                }
                break;
            }
        }
    }
}

struct UnionFind {
    parent: Vec<usize>,
}

impl UnionFind {
    fn new(n: usize) -> Self {
        Self { parent: (0..n).collect() }
    }

    fn find(&mut self, i: usize) -> usize {
        let mut root = i;
        while self.parent[root] != root {
            root = self.parent[root];
        }
        let mut i = i;
        while self.parent[i] != root {
            let next = self.parent[i];
            self.parent[i] = root;
            i = next;
        }
        root
    }

    /// Joins two sets; the smaller index stays root so that results are deterministic.
    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.parent[hi] = lo;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::RawItem;

    fn source(lines: &[(&str, &str)]) -> Extracted {
        Extracted {
            items: lines
                .iter()
                .map(|(t, c)| RawItem { text: (*t).into(), category: (*c).into() })
                .collect(),
            skipped: Vec::new(),
        }
    }

    fn rows(lex: &Lexicon) -> Vec<String> {
        lex.entries()
            .iter()
            .map(|e| format!("{},{},{},{}", e.surface, e.canonical, e.category, e.source))
            .collect()
    }

    #[test]
    fn duplicates_merge_across_sources_keeping_sources_and_categories() {
        let mut b = Builder::new(StopList::default());
        b.add_source("wiki", "w", source(&[("Tire/Tyre", "Wheels"), ("Brakes", "Braking")]));
        b.add_source("list", "l", source(&[("Tyres", ""), ("brake", ""), ("Glowplug", "")]));
        b.add_source("more", "m", source(&[("Glow plug", "Ignition")]));
        let (lex, report) = b.finish();
        assert_eq!(
            rows(&lex),
            [
                "brake,brake,Braking,list|wiki",
                "glow plug,glowplug,Ignition,more",
                "glowplug,glowplug,Ignition,list",
                "tire,tire,Wheels,wiki",
                "tyre,tire,Wheels,list|wiki",
            ]
        );
        assert_eq!((report.canonical, report.surfaces, report.aliases()), (3, 5, 2));
    }

    #[test]
    fn weak_alias_that_is_a_part_of_its_own_stays_separate() {
        let mut b = Builder::new(StopList::default());
        b.add_source(
            "wiki",
            "w",
            source(&[("Wheel cylinder (slave cylinder)", "Brakes"), ("Slave cylinder", "Gears")]),
        );
        let (lex, report) = b.finish();
        assert_eq!(lex.canonical_count(), 2);
        assert_eq!(report.drop_counts().get("alias is a separate part"), Some(&1));
    }

    #[test]
    fn weak_alias_claimed_by_two_parts_is_dropped() {
        let mut b = Builder::new(StopList::default());
        b.add_source("wiki", "w", source(&[("Fender (wing)", "Body"), ("Spoiler (wing)", "Body")]));
        let (lex, report) = b.finish();
        assert_eq!(lex.canonicals().into_iter().collect::<Vec<_>>(), ["fender", "spoiler"]);
        assert_eq!(report.drop_counts().get("ambiguous alias"), Some(&1));
    }

    #[test]
    fn adjacent_acronym_joins_its_expansion_and_short_acronyms_are_dropped() {
        let mut b = Builder::new(StopList::default());
        b.add_source(
            "list",
            "l",
            source(&[("Body control module", ""), ("BCM", ""), ("Universal joint (UJ)", "")]),
        );
        let (lex, report) = b.finish();
        assert_eq!(
            rows(&lex),
            [
                "BCM,body control module,,list",
                "body control module,body control module,,list",
                "universal joint,universal joint,,list",
            ]
        );
        assert_eq!(report.drop_counts().get("short acronym"), Some(&1));
    }

    #[test]
    fn extra_aliases_choose_the_canonical_and_add_new_parts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("extra.csv");
        std::fs::write(
            &path,
            "# reviewed\nalias,canonical\nbonnet,hood\ntranny,transmission\nAC,air conditioning\n",
        )
        .unwrap();
        let mut b = Builder::new(StopList::default());
        b.add_source("wiki", "w", source(&[("Bonnet/hood", "Body"), ("Transmission", "")]));
        b.add_extra_aliases(&path, "extra").unwrap();
        let (lex, _) = b.finish();
        assert_eq!(
            rows(&lex),
            [
                "AC,air conditioning,,extra",
                "air conditioning,air conditioning,,extra",
                "bonnet,hood,Body,extra|wiki",
                "hood,hood,Body,extra|wiki",
                "tranny,transmission,,extra",
                "transmission,transmission,,extra|wiki",
            ]
        );
    }

    #[test]
    fn extra_aliases_with_a_bad_header_name_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("extra.csv");
        std::fs::write(&path, "surface,canonical\nx,y\n").unwrap();
        let mut b = Builder::new(StopList::default());
        let err = b.add_extra_aliases(&path, "extra").unwrap_err().to_string();
        assert!(err.contains("extra.csv: line 1: expected header alias,canonical"), "{err}");
    }

    #[test]
    fn reviewed_candidates_merge_only_the_accepted_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("candidates.csv");
        std::fs::write(
            &path,
            "accept,alias,canonical,count,reviews,mean_confidence,example
             yes,heads up display,head-up display,4,4,0.91,\"...has the [heads up display] which...\"
             ,panoramic,panoramic,3,3,0.80,...
             no,'s,'s,2,2,0.6,...
             Y,tranny,transmission,2,2,0.9,...
",
        )
        .unwrap();
        let mut b = Builder::new(StopList::default());
        b.add_source("wiki", "w", source(&[("Transmission", "")]));
        b.add_extra_aliases(&path, "candidates").unwrap();
        let (lex, _) = b.finish();
        assert_eq!(
            rows(&lex),
            [
                "head-up display,head-up display,,candidates",
                "heads up display,head-up display,,candidates",
                "tranny,transmission,,candidates",
                "transmission,transmission,,candidates|wiki",
            ]
        );
        std::fs::write(
            &path,
            "accept,alias,canonical
maybe,x,y
",
        )
        .unwrap();
        let err = Builder::new(StopList::default())
            .add_extra_aliases(&path, "c")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2") && err.contains("accept must be yes or no"), "{err}");
    }

    #[test]
    fn stop_listed_surfaces_are_dropped_with_their_reason_but_longer_names_stay() {
        let stop = StopList::parse("spring # the season\n", Path::new("s")).unwrap();
        let mut b = Builder::new(stop);
        b.add_source("wiki", "w", source(&[("Spring", "S"), ("Coil spring", "S")]));
        let (lex, report) = b.finish();
        assert_eq!(lex.canonicals().into_iter().collect::<Vec<_>>(), ["coil spring"]);
        assert_eq!(report.dropped[0].reason, DropReason::StopListed("the season".into()));
    }
}
