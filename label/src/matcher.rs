//! The part matcher: aho-corasick over every surface form and its generated variants, whole
//! words only, leftmost-longest among the candidates that pass the word-boundary check.

use std::collections::HashMap;

use aho_corasick::automaton::OverlappingState;
use aho_corasick::{AhoCorasick, AhoCorasickKind, Input, MatchKind, StartKind};
use records::Lexicon;

use crate::Error;

/// Where a surface form came from: written in the lexicon, or generated from one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Origin {
    /// Written in the lexicon: wins over any generated variant with the same text.
    Lexicon,
    /// A plural, a hyphen/space/joined variant, or a split compound.
    Generated,
}

#[derive(Debug, Clone)]
struct Pattern {
    text: String,
    canonical: u32,
    /// Upper-case acronyms (`ABS`) must match exactly; everything else ignores ASCII case.
    case_sensitive: bool,
}

/// One tagged mention: which part, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mention {
    /// Index into [`Labeler::canonicals`].
    pub part: u32,
    /// Byte offset of the first byte of the mention.
    pub start: usize,
    /// Byte offset one past the mention.
    pub end: usize,
}

/// Tags the vehicle parts a text mentions.
///
/// Matching is ASCII-case-insensitive (upper-case acronyms excepted), whole words only (the
/// characters before and after a mention must not be letters or digits), and leftmost-longest
/// among whole-word candidates: `brake pad` wins over `brake`, and a shorter hit inside a word
/// (`seat` in `seattle`) never hides a real mention that starts later.
///
/// ```
/// use records::{Lexicon, LexiconEntry};
/// let lexicon = Lexicon::from_entries(vec![
///     LexiconEntry::new("brake", "brake", "Braking", "t"),
///     LexiconEntry::new("brake pad", "brake pad", "Braking", "t"),
///     LexiconEntry::new("seat", "seat", "Interior", "t"),
///     LexiconEntry::new("tyre", "tire", "Wheels", "t"),
///     LexiconEntry::new("tire", "tire", "Wheels", "t"),
/// ]);
/// let labeler = label::Labeler::new(&lexicon).unwrap();
/// assert_eq!(
///     labeler.parts("New Brake Pads in Seattle, then tyres, then brakes."),
///     vec!["brake pad", "tire", "brake"]
/// );
/// ```
#[derive(Debug, Clone)]
pub struct Labeler {
    /// Every pattern, standard (overlapping) semantics: one pass over a text reports every
    /// occurrence, and the whole-word leftmost-longest choice is made among the valid ones.
    automaton: AhoCorasick,
    patterns: Vec<Pattern>,
    canonicals: Vec<String>,
    conflicts: Vec<Conflict>,
}

/// Two lexicon rows whose surfaces match the same text (equal but for ASCII case) but name
/// different canonical parts. The first in lexicon order is used; the conflict is reported so
/// that a person can fix the lexicon instead of getting one of the two silently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The surface as written in the row that is used.
    pub surface: String,
    /// The canonical part the labeler uses for it.
    pub used: String,
    /// The canonical part of the other row, which is ignored for this surface.
    pub ignored: String,
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "surface {:?} maps to {:?} and to {:?}; {:?} is used",
            self.surface, self.used, self.ignored, self.used
        )
    }
}

/// Builds a [`Labeler`] with options other than the defaults.
#[derive(Debug, Clone)]
pub struct LabelerBuilder {
    inflections: bool,
    variants: bool,
    exclude: Vec<String>,
}

impl Default for LabelerBuilder {
    fn default() -> Self {
        Self { inflections: true, variants: true, exclude: Vec::new() }
    }
}

impl LabelerBuilder {
    /// Whether plural forms of the last word are generated (`tire` → `tires`, `battery` →
    /// `batteries`, `bush` → `bushes`). Default: `true`.
    pub fn inflections(&mut self, yes: bool) -> &mut Self {
        self.inflections = yes;
        self
    }

    /// Whether spelling variants are generated: space, hyphen and joined forms of two-word
    /// names (`seat belt`, `seat-belt`, `seatbelt`), and compounds split where the second half
    /// is itself a part (`sunroof` → `sun roof` when `roof` is a part). Default: `true`.
    pub fn variants(&mut self, yes: bool) -> &mut Self {
        self.variants = yes;
        self
    }

    /// Canonical parts to leave out entirely (for held-out-part experiments). Default: none.
    pub fn exclude<I, S>(&mut self, canonicals: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.exclude = canonicals.into_iter().map(Into::into).collect();
        self
    }

    /// Builds the labeler.
    ///
    /// # Errors
    /// [`Error::EmptyLexicon`] when no surface is left to match, or [`Error::Automaton`] when the
    /// automaton cannot be built.
    pub fn build(&self, lexicon: &Lexicon) -> Result<Labeler, Error> {
        let mut canonicals: Vec<String> = Vec::new();
        let mut canonical_ids: HashMap<String, u32> = HashMap::new();
        // The surface text (case-folded unless case-sensitive) → (origin, pattern). A written
        // surface beats a generated one; among equals the first in lexicon order wins, so the
        // result does not depend on hash order.
        let mut by_text: HashMap<(String, bool), (Origin, Pattern)> = HashMap::new();
        let mut order: Vec<(String, bool)> = Vec::new();
        let mut clashes: Vec<(String, u32, u32)> = Vec::new();
        let mut add = |text: String, canonical: u32, case_sensitive: bool, origin: Origin| {
            let key = (
                if case_sensitive { text.clone() } else { text.to_ascii_lowercase() },
                case_sensitive,
            );
            match by_text.get_mut(&key) {
                Some(existing) if existing.0 <= origin => {
                    if origin == Origin::Lexicon && existing.1.canonical != canonical {
                        clashes.push((existing.1.text.clone(), existing.1.canonical, canonical));
                    }
                }
                Some(existing) => *existing = (origin, Pattern { text, canonical, case_sensitive }),
                None => {
                    order.push(key.clone());
                    by_text.insert(key, (origin, Pattern { text, canonical, case_sensitive }));
                }
            }
        };

        let entries: Vec<_> = lexicon
            .entries()
            .iter()
            .filter(|e| !self.exclude.iter().any(|x| x.eq_ignore_ascii_case(&e.canonical)))
            .collect();
        // Single-word surfaces, for splitting compounds (`sunroof` → `sun roof`).
        let single_words: std::collections::HashSet<String> = entries
            .iter()
            .map(|e| e.surface.to_ascii_lowercase())
            .filter(|s| s.len() >= 3 && s.bytes().all(|b| b.is_ascii_alphabetic()))
            .collect();

        for entry in &entries {
            let id = *canonical_ids.entry(entry.canonical.clone()).or_insert_with(|| {
                canonicals.push(entry.canonical.clone());
                (canonicals.len() - 1) as u32
            });
            let surface = collapse_spaces(&entry.surface);
            let case_sensitive = is_acronym(&surface);
            add(surface.clone(), id, case_sensitive, Origin::Lexicon);
            let mut forms = vec![surface.clone()];
            if self.variants && !case_sensitive {
                forms.extend(spelling_variants(&surface, &single_words));
            }
            for form in forms {
                if self.inflections {
                    for plural in plurals(&form, case_sensitive) {
                        add(plural, id, case_sensitive, Origin::Generated);
                    }
                }
                if form != surface {
                    add(form, id, case_sensitive, Origin::Generated);
                }
            }
        }
        if order.is_empty() {
            return Err(Error::EmptyLexicon);
        }
        // Canonicals equal but for case (`CV joint`, `cv joint`) name one part: not a conflict.
        let conflicts = clashes
            .into_iter()
            .filter(|&(_, a, b)| {
                !canonicals[a as usize].eq_ignore_ascii_case(&canonicals[b as usize])
            })
            .map(|(surface, used, ignored)| Conflict {
                surface,
                used: canonicals[used as usize].clone(),
                ignored: canonicals[ignored as usize].clone(),
            })
            .collect();
        let patterns: Vec<Pattern> =
            order.into_iter().map(|k| by_text.remove(&k).unwrap().1).collect();
        let texts = patterns.iter().map(|p| p.text.as_bytes());
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .start_kind(StartKind::Unanchored)
            .ascii_case_insensitive(true)
            .kind(Some(AhoCorasickKind::DFA))
            .build(texts.clone())
            .or_else(|_| {
                // A very large lexicon can outgrow the DFA's limits; the contiguous NFA is
                // slower but has none.
                AhoCorasick::builder().ascii_case_insensitive(true).build(texts)
            })
            .map_err(|e| Error::Automaton(e.to_string()))?;
        Ok(Labeler { automaton, patterns, canonicals, conflicts })
    }
}

impl Labeler {
    /// A labeler with the default options (inflections and spelling variants on).
    ///
    /// # Errors
    /// As [`LabelerBuilder::build`].
    pub fn new(lexicon: &Lexicon) -> Result<Self, Error> {
        Self::builder().build(lexicon)
    }

    /// A builder to set options.
    pub fn builder() -> LabelerBuilder {
        LabelerBuilder::default()
    }

    /// Lexicon rows that give one surface two canonical parts (see [`Conflict`]); empty for a
    /// consistent lexicon.
    pub fn conflicts(&self) -> &[Conflict] {
        &self.conflicts
    }

    /// The canonical part names; [`Mention::part`] indexes this list.
    pub fn canonicals(&self) -> &[String] {
        &self.canonicals
    }

    /// Number of patterns in the automaton (surfaces plus generated variants).
    pub fn pattern_count(&self) -> usize {
        self.patterns.len()
    }

    /// Every mention in `text`, in order, non-overlapping.
    pub fn mentions(&self, text: &str) -> Vec<Mention> {
        let mut out = Vec::new();
        self.mentions_into(text, &mut out);
        out
    }

    /// Like [`Labeler::mentions`], reusing `out` (cleared first) to avoid allocation.
    ///
    /// A candidate must start and end a word (and an acronym must match its case); among the
    /// candidates that do, the leftmost wins, then the longest, and the search goes on after
    /// it. One pass of the automaton finds every candidate, so an inner hit (`seat` in
    /// `seattle`) never hides a real mention that starts later.
    ///
    /// Whitespace runs match one space: a name broken across a line or written with two spaces
    /// (`glove \ncompartment`, `cup  holders`) is one mention; offsets are in `text`.
    pub fn mentions_into(&self, text: &str, out: &mut Vec<Mention>) {
        match collapse_whitespace(text) {
            None => self.mentions_in(text, out),
            Some(c) => {
                self.mentions_in(&c.flat, out);
                for m in out.iter_mut() {
                    // A mention starts and ends on a non-space byte, so both ends map back.
                    m.start = c.original(m.start);
                    m.end = c.original(m.end - 1) + 1;
                }
            }
        }
    }

    fn mentions_in(&self, text: &str, out: &mut Vec<Mention>) {
        out.clear();
        // One pass of the overlapping automaton reports every pattern occurrence; those that
        // pass the whole-word and case checks are kept, with the pattern id in `part` for now.
        let input = Input::new(text.as_bytes());
        let mut state = OverlappingState::start();
        loop {
            self.automaton.find_overlapping(input.clone(), &mut state);
            let Some(m) = state.get_match() else { break };
            let (start, end, id) = (m.start(), m.end(), m.pattern().as_usize());
            if is_boundary_before(text, start) && self.accepts(id, text, start, end) {
                out.push(Mention { part: id as u32, start, end });
            }
        }
        // Leftmost first, then longest (then the pattern written first), and greedily
        // non-overlapping: the same choice as a leftmost-longest search over valid mentions.
        out.sort_unstable_by_key(|m| (m.start, std::cmp::Reverse(m.end), m.part));
        let mut kept = 0;
        let mut pos = 0;
        for i in 0..out.len() {
            let m = out[i];
            if m.start >= pos {
                pos = m.end;
                out[kept] = Mention { part: self.patterns[m.part as usize].canonical, ..m };
                kept += 1;
            }
        }
        out.truncate(kept);
    }

    /// Whether pattern `id`, found at `start..end`, ends a word and has the right case.
    fn accepts(&self, id: usize, text: &str, start: usize, end: usize) -> bool {
        let pattern = &self.patterns[id];
        (!pattern.case_sensitive || &text.as_bytes()[start..end] == pattern.text.as_bytes())
            && is_boundary_after(text, end)
    }

    /// The distinct canonical parts in `text`, as indexes, in order of first mention; appended
    /// to `parts` (which is not cleared, so that several fields can be matched in turn).
    pub fn part_ids_into(&self, text: &str, scratch: &mut Vec<Mention>, parts: &mut Vec<u32>) {
        self.mentions_into(text, scratch);
        for m in scratch.iter() {
            if !parts.contains(&m.part) {
                parts.push(m.part);
            }
        }
    }

    /// The distinct canonical parts in `text`, in order of first mention.
    pub fn parts(&self, text: &str) -> Vec<&str> {
        let mut ids = Vec::new();
        self.part_ids_into(text, &mut Vec::new(), &mut ids);
        ids.into_iter().map(|id| self.canonicals[id as usize].as_str()).collect()
    }
}

/// `text` with every run of whitespace (space, tab, `\n`, `\r`) made one space; `None` when
/// every whitespace in `text` already is a single space (no copy). The text between runs is
/// copied in slices found with SIMD searches: labeling speed is dominated by such passes.
fn collapse_whitespace(text: &str) -> Option<Collapsed> {
    let bytes = text.as_bytes();
    let ws = |b: u8| matches!(b, b' ' | b'\n' | b'\r' | b'\t');
    let double = memchr::memmem::Finder::new(b"  ");
    // The next control whitespace and the next double space at or after `from`, cached.
    let find_ctrl =
        |from: usize| memchr::memchr3(b'\n', b'\r', b'\t', &bytes[from..]).map(|i| from + i);
    let find_double = |from: usize| double.find(&bytes[from..]).map(|i| from + i);
    let (mut ctrl, mut dbl) = (find_ctrl(0), find_double(0));
    ctrl.or(dbl)?;
    let mut flat = Vec::with_capacity(bytes.len());
    let mut shifts: Vec<(usize, usize)> = Vec::new();
    let mut pos = 0;
    loop {
        if ctrl.is_some_and(|c| c < pos) {
            ctrl = find_ctrl(pos);
        }
        if dbl.is_some_and(|d| d < pos) {
            dbl = find_double(pos);
        }
        let Some(odd) = [ctrl, dbl].into_iter().flatten().min() else {
            flat.extend_from_slice(&bytes[pos..]);
            break;
        };
        // The whole run around `odd`: back over the spaces before it, on over what follows.
        let mut start = odd;
        while start > pos && ws(bytes[start - 1]) {
            start -= 1;
        }
        let mut end = odd;
        while end < bytes.len() && ws(bytes[end]) {
            end += 1;
        }
        flat.extend_from_slice(&bytes[pos..start]);
        flat.push(b' ');
        let shift = end - flat.len();
        if end < bytes.len() && shift != shifts.last().map_or(0, |&(_, d)| d) {
            shifts.push((flat.len(), shift));
        }
        pos = end;
    }
    // Only ASCII bytes were replaced, so the result is still UTF-8.
    let flat = String::from_utf8(flat).expect("ASCII replacements keep UTF-8");
    Some(Collapsed { flat, shifts })
}

/// A text with its whitespace runs collapsed, and how to find a byte of it in the original.
struct Collapsed {
    flat: String,
    /// `(flat offset, bytes removed before it)` at each non-space byte where the count grows.
    shifts: Vec<(usize, usize)>,
}

impl Collapsed {
    /// The offset in the original text of the non-space byte at `pos` of the collapsed one.
    fn original(&self, pos: usize) -> usize {
        let i = self.shifts.partition_point(|&(at, _)| at <= pos);
        pos + if i == 0 { 0 } else { self.shifts[i - 1].1 }
    }
}

fn collapse_spaces(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An acronym is written with upper-case letters and no lower-case letter (`ABS`, `ECU`, `A/C`
/// is not: the lexicon writes it `a/c`).
fn is_acronym(s: &str) -> bool {
    s.bytes().any(|b| b.is_ascii_uppercase()) && !s.bytes().any(|b| b.is_ascii_lowercase())
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

fn is_boundary_before(text: &str, start: usize) -> bool {
    match text[..start].chars().next_back() {
        None => true,
        Some(c) => !is_word_char(c),
    }
}

fn is_boundary_after(text: &str, end: usize) -> bool {
    match text[end..].chars().next() {
        None => true,
        Some(c) => !is_word_char(c),
    }
}

/// Plural forms of the last word of `form`.
fn plurals(form: &str, acronym: bool) -> Vec<String> {
    let last = form.rsplit([' ', '-']).next().unwrap_or(form);
    if last.is_empty() || !last.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Vec::new();
    }
    if acronym {
        return vec![format!("{form}s")];
    }
    let lower = last.to_ascii_lowercase();
    if lower.len() < 3 {
        return Vec::new();
    }
    let stem = &form[..form.len() - last.len()];
    let ends = |s: &str| lower.ends_with(s);
    let mut out = Vec::new();
    if ends("s") || ends("x") || ends("z") || ends("ch") || ends("sh") {
        out.push(format!("{form}es"));
    } else if ends("y")
        && !matches!(lower.as_bytes()[lower.len() - 2], b'a' | b'e' | b'i' | b'o' | b'u')
    {
        out.push(format!("{stem}{}ies", &last[..last.len() - 1]));
    } else {
        out.push(format!("{form}s"));
        if ends("fe") {
            out.push(format!("{stem}{}ves", &last[..last.len() - 2]));
        } else if ends("f") && !ends("ff") {
            out.push(format!("{stem}{}ves", &last[..last.len() - 1]));
        }
    }
    out
}

/// Space, hyphen and joined spellings of a name, and a split of a compound whose second half is
/// a part.
fn spelling_variants(
    surface: &str,
    single_words: &std::collections::HashSet<String>,
) -> Vec<String> {
    let words: Vec<&str> = surface.split([' ', '-']).filter(|w| !w.is_empty()).collect();
    let mut out = Vec::new();
    if words.len() >= 2 {
        out.push(words.join(" "));
        out.push(words.join("-"));
        if words.len() == 2
            && words.iter().all(|w| w.len() >= 2 && w.bytes().all(|b| b.is_ascii_alphabetic()))
        {
            out.push(words.concat());
        }
    } else if surface.len() >= 7 && surface.bytes().all(|b| b.is_ascii_alphabetic()) {
        let lower = surface.to_ascii_lowercase();
        for split in 3..=lower.len() - 4 {
            if single_words.contains(&lower[split..]) {
                out.push(format!("{} {}", &surface[..split], &surface[split..]));
                out.push(format!("{}-{}", &surface[..split], &surface[split..]));
                break;
            }
        }
    }
    out.retain(|v| v != surface);
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use records::LexiconEntry;

    fn lexicon(rows: &[(&str, &str)]) -> Lexicon {
        Lexicon::from_entries(
            rows.iter().map(|(s, c)| LexiconEntry::new(*s, *c, "cat", "test")).collect(),
        )
    }

    fn fixture() -> Labeler {
        Labeler::new(&lexicon(&[
            ("brake", "brake"),
            ("brake pad", "brake pad"),
            ("seat", "seat"),
            ("seat belt", "seat belt"),
            ("tire", "tire"),
            ("tyre", "tire"),
            ("battery", "battery"),
            ("headlight", "headlight"),
            ("light", "light"),
            ("roof", "roof"),
            ("sunroof", "sunroof"),
            ("a/c", "air conditioning"),
            ("air conditioning", "air conditioning"),
            ("ABS", "anti-lock braking system"),
            ("anti-lock braking system", "anti-lock braking system"),
            ("bush", "bushing"),
            ("wiper", "wiper"),
            ("windshield wiper", "windshield wiper"),
            ("sun visor", "sun visor"),
            ("shelf", "parcel shelf"),
        ]))
        .unwrap()
    }

    #[test]
    fn matching_cases() {
        struct Case {
            name: &'static str,
            text: &'static str,
            want: &'static [&'static str],
        }
        let cases = [
            Case { name: "longest wins", text: "new brake pads", want: &["brake pad"] },
            Case {
                name: "case folded",
                text: "BRAKE PAD and Brake",
                want: &["brake pad", "brake"],
            },
            Case { name: "not inside a word", text: "I live in Seattle", want: &[] },
            Case { name: "prefix inside a word", text: "lightweight roofing", want: &[] },
            Case {
                name: "inner hit does not hide a later word",
                text: "seattle seat",
                want: &["seat"],
            },
            Case {
                name: "longer candidate failing the boundary falls back",
                text: "the seat beltway",
                want: &["seat"],
            },
            Case { name: "plural s", text: "tires and tyres", want: &["tire"] },
            Case { name: "plural ies", text: "two batteries", want: &["battery"] },
            Case { name: "plural es", text: "worn bushes", want: &["bushing"] },
            Case { name: "plural ves", text: "parcel shelves", want: &["parcel shelf"] },
            Case { name: "plural of a compound", text: "headlights", want: &["headlight"] },
            Case { name: "joined variant", text: "my seatbelt", want: &["seat belt"] },
            Case { name: "hyphen variant", text: "my seat-belts", want: &["seat belt"] },
            Case { name: "split compound", text: "a sun roof", want: &["sunroof"] },
            Case { name: "joined two words", text: "the sunvisor", want: &["sun visor"] },
            Case { name: "slash alternatives", text: "tires/brakes", want: &["tire", "brake"] },
            Case { name: "slash in a surface", text: "the A/C died", want: &["air conditioning"] },
            Case {
                name: "acronym upper case",
                text: "ABS light",
                want: &["anti-lock braking system", "light"],
            },
            Case { name: "acronym not in lower case", text: "six-pack abs", want: &[] },
            Case { name: "acronym plural", text: "ABSs", want: &["anti-lock braking system"] },
            Case {
                name: "order of first mention",
                text: "tire, brake, tire",
                want: &["tire", "brake"],
            },
            Case { name: "possessive", text: "the tire's tread", want: &["tire"] },
            Case {
                name: "non-ascii neighbour is a letter",
                text: "éseat seaté seat",
                want: &["seat"],
            },
            Case { name: "digits are word characters", text: "tire2 2tire", want: &[] },
            Case {
                // Wrapped review text: a name across a line break is one mention (GUIDELINE A3).
                name: "line breaks are boundaries; a name wrapped across one is one mention",
                text: "seat\nbelt\ntire",
                want: &["seat belt", "tire"],
            },
            Case {
                name: "longest across words",
                text: "windshield wipers",
                want: &["windshield wiper"],
            },
        ];
        let labeler = fixture();
        for case in cases {
            assert_eq!(
                labeler.parts(case.text),
                case.want,
                "case {:?}: {:?}",
                case.name,
                case.text
            );
        }
    }

    /// The brute-force definition the automaton search must agree with: every whole-word,
    /// case-correct occurrence of every pattern, then leftmost-longest, non-overlapping.
    fn reference_mentions(labeler: &Labeler, text: &str) -> Vec<(usize, usize, u32)> {
        // Whitespace runs match one space (see `mentions_into`): search the collapsed text and
        // map the offsets back.
        if let Some(c) = collapse_whitespace(text) {
            return reference_mentions(labeler, &c.flat)
                .into_iter()
                .map(|(s, e, p)| (c.original(s), c.original(e - 1) + 1, p))
                .collect();
        }
        let lower = text.to_ascii_lowercase();
        let mut candidates = Vec::new();
        for p in &labeler.patterns {
            let needle =
                if p.case_sensitive { p.text.clone() } else { p.text.to_ascii_lowercase() };
            let hay = if p.case_sensitive { text } else { lower.as_str() };
            for (start, _) in hay.match_indices(needle.as_str()) {
                let end = start + needle.len();
                if is_boundary_before(text, start) && is_boundary_after(text, end) {
                    candidates.push((start, end, p.canonical));
                }
            }
            // match_indices skips overlapping occurrences of the same needle; add them.
            let mut from = 0;
            while let Some(i) = hay[from..].find(needle.as_str()) {
                let start = from + i;
                let end = start + needle.len();
                if is_boundary_before(text, start) && is_boundary_after(text, end) {
                    candidates.push((start, end, p.canonical));
                }
                from = start + 1;
            }
        }
        candidates.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        candidates.dedup_by_key(|c| (c.0, c.1));
        let mut last = 0;
        candidates.retain(|c| {
            let keep = c.0 >= last;
            if keep {
                last = c.1;
            }
            keep
        });
        candidates
    }

    #[test]
    fn search_agrees_with_brute_force_on_random_texts() {
        let labeler = fixture();
        let words = [
            "seat",
            "seattle",
            "belt",
            "beltway",
            "brake",
            "pad",
            "pads",
            "brakes",
            "ABS",
            "abs",
            "a/c",
            "A/C",
            "sun",
            "roof",
            "sunroof",
            "tyres",
            "x",
            "-",
            "/",
            ",",
            "é",
            "2",
            "windshield",
            "wiper",
            "wipers",
            "head",
            "light",
            "lights",
            "headlight",
            "bushes",
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..3000 {
            let mut text = String::new();
            let n = 1 + (state % 9) as usize;
            for _ in 0..n {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let w = words[(state % words.len() as u64) as usize];
                let sep = ["", " ", " ", "-", "\n"][(state >> 20) as usize % 5];
                text.push_str(w);
                text.push_str(sep);
            }
            let got: Vec<_> =
                labeler.mentions(&text).iter().map(|m| (m.start, m.end, m.part)).collect();
            let want = reference_mentions(&labeler, &text);
            let got_spans: Vec<_> = got.iter().map(|g| (g.0, g.1)).collect();
            let want_spans: Vec<_> = want.iter().map(|w| (w.0, w.1)).collect();
            assert_eq!(got_spans, want_spans, "text {text:?}");
        }
    }

    #[test]
    fn a_name_broken_across_a_line_is_one_mention() {
        let labeler = Labeler::new(&lexicon(&[
            ("glove compartment", "glove box"),
            ("cup holder", "cup holder"),
        ]))
        .unwrap();
        let text = "The glove \r\ncompartment and the cup  holders.";
        assert_eq!(labeler.parts(text), vec!["glove box", "cup holder"]);
        let spans: Vec<&str> =
            labeler.mentions(text).iter().map(|m| &text[m.start..m.end]).collect();
        assert_eq!(spans, ["glove \r\ncompartment", "cup  holders"]);
        assert!(collapse_whitespace("one space only").is_none());
    }

    #[test]
    fn mentions_carry_byte_offsets() {
        let labeler = fixture();
        let text = "café: brake pads";
        let m = labeler.mentions(text);
        assert_eq!(m.len(), 1);
        assert_eq!(&text[m[0].start..m[0].end], "brake pads");
    }

    #[test]
    fn written_surface_beats_generated_variant() {
        // "pads" is generated from "pad" (part A) but written for part B: B wins.
        let labeler = Labeler::new(&lexicon(&[("pad", "pad"), ("pads", "padding")])).unwrap();
        assert_eq!(labeler.parts("pads"), vec!["padding"]);
        assert_eq!(labeler.parts("pad"), vec!["pad"]);
    }

    #[test]
    fn surfaces_equal_but_for_case_with_two_canonicals_are_reported() {
        let labeler = Labeler::new(&lexicon(&[
            ("ABS module", "ABS module"),
            ("abs module", "anti-lock braking system"),
            ("tire", "tire"),
            ("Tire", "tire"),
        ]))
        .unwrap();
        assert_eq!(
            labeler.conflicts(),
            [Conflict {
                surface: "ABS module".into(),
                used: "ABS module".into(),
                ignored: "anti-lock braking system".into(),
            }]
        );
        assert_eq!(labeler.parts("the abs module failed"), vec!["ABS module"]);
        assert!(Labeler::new(&lexicon(&[("tire", "tire")])).unwrap().conflicts().is_empty());
    }

    #[test]
    fn options_turn_generation_off_and_exclude_parts() {
        let lex = lexicon(&[("tire", "tire"), ("seat belt", "seat belt")]);
        let plain = Labeler::builder().inflections(false).variants(false).build(&lex).unwrap();
        assert!(plain.parts("tires seatbelt").is_empty());
        assert_eq!(plain.parts("tire seat belt"), vec!["tire", "seat belt"]);
        let without = Labeler::builder().exclude(["tire"]).build(&lex).unwrap();
        assert_eq!(without.parts("tire seat belt"), vec!["seat belt"]);
        assert!(matches!(
            Labeler::builder().exclude(["tire", "seat belt"]).build(&lex),
            Err(Error::EmptyLexicon)
        ));
    }

    #[test]
    fn plural_rules() {
        assert_eq!(plurals("glass", false), vec!["glasses"]);
        assert_eq!(plurals("key", false), vec!["keys"]);
        assert_eq!(plurals("body", false), vec!["bodies"]);
        assert_eq!(plurals("spark plug", false), vec!["spark plugs"]);
        assert_eq!(plurals("a/c", false), Vec::<String>::new());
        assert_eq!(plurals("ECU", true), vec!["ECUs"]);
    }
}
