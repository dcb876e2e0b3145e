//! Turning the text of one list item into part names and their aliases.
//!
//! List pages write parts for people, not for a matcher: `Fender (wing or mudguard)`,
//! `Tire/Tyre`, `Door lock and power door locks`, `Front Left Side Window motor`. The rules here
//! decide, item by item, which words are a part name, which are another name for it (an alias),
//! and which are qualifiers or notes that must not become names. Every decision to throw text
//! away is returned as a [`DropReason`] so that `--explain` can show it.

use crate::report::DropReason;

/// How firmly an alias is tied to its part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Link {
    /// The page says the two names are the same thing (`Tire/Tyre`, `also called`, an acronym):
    /// the alias joins the part even when the alias is listed as a part of its own.
    Strong,
    /// A bare parenthetical (`Muffler (Silencer)`): the alias joins the part only when it is not
    /// listed as a separate part and no other part claims it.
    Weak,
}

/// One part name found in an item, with the aliases the item gives for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    /// The cleaned part name (lower case except acronyms, singular).
    pub primary: String,
    /// Cleaned aliases and how firmly they are tied to `primary`.
    pub aliases: Vec<(String, Link)>,
}

/// The names of one item and the text it threw away.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Part names, in the order the item gives them.
    pub names: Vec<Name>,
    /// Text that is not a name, with the reason.
    pub dropped: Vec<(String, DropReason)>,
}

/// Words that end a name which is really a group of parts (`Ignition coil parts`).
const GROUP_WORDS: &[&str] = &["part", "component", "function"];

/// Longest name kept, in words; longer items are sentences, not names.
const MAX_WORDS: usize = 6;

/// Parses the text of one list item or line.
pub fn parse_item(raw: &str) -> Parsed {
    let mut out = Parsed::default();
    let mut text = collapse_ws(raw);
    // `Gasket: Flat, moulded, profiled` lists kinds after the colon; the part is before it.
    if let Some(i) = text.find(':') {
        if i > 0 {
            text.truncate(i);
        }
    }
    let text = text.replace(" & ", " and ");
    let (base, parens) = extract_parens(&text);
    let base_words: Vec<&str> = base.split_whitespace().collect();

    let mut variants: Vec<(String, Link)> = Vec::new();
    let mut end: Option<String> = None;
    for paren in parens {
        let content = collapse_ws(&paren.content);
        if content.is_empty() {
            continue;
        }
        if paren.at_end {
            end = Some(content);
            continue;
        }
        let before = &base_words[..paren.words_before.min(base_words.len())];
        let after = &base_words[paren.words_before.min(base_words.len())..];
        let lower = content.to_lowercase();
        if let Some(alt) = lower.strip_prefix("or ") {
            // `Fuel tank (or fuel filler) door`: the alternative replaces as many words before.
            let alt: Vec<&str> = content[content.len() - alt.len()..].split_whitespace().collect();
            if alt.len() <= before.len() {
                let mut words: Vec<&str> = before[..before.len() - alt.len()].to_vec();
                words.extend(&alt);
                words.extend(after);
                variants.push((words.join(" "), Link::Weak));
            }
        } else if before.last().is_some_and(|w| is_acronym(w)) {
            // `LPG (Liquefied petroleum gas) system`: an expansion of the acronym before it.
            out.dropped.push((content, DropReason::Note));
        } else {
            // `Radiator (fan) shroud`: optional words; the longer form is an alias.
            let mut words: Vec<&str> = before.to_vec();
            words.extend(content.split_whitespace());
            words.extend(after);
            variants.push((words.join(" "), Link::Weak));
        }
    }

    let mut names = split_names(&base);
    if names.is_empty() {
        return out;
    }
    if let Some(last) = names.last_mut() {
        last.1.extend(variants);
        if let Some(content) = end {
            end_aliases(&content, &last.0, &mut last.1, &mut out.dropped);
        }
    }

    for (primary, aliases) in names.drain(..) {
        let Some(primary) = clean_checked(&primary, &mut out.dropped) else {
            // Aliases of a dropped generic name are dropped with it.
            continue;
        };
        let mut kept = Vec::new();
        for (alias, link) in aliases {
            if let Some(alias) = clean_checked(&alias, &mut out.dropped) {
                if alias != primary && !kept.iter().any(|(a, _)| a == &alias) {
                    kept.push((alias, link));
                }
            }
        }
        match out.names.iter_mut().find(|n| n.primary == primary) {
            Some(existing) => existing.aliases.extend(kept),
            None => out.names.push(Name { primary, aliases: kept }),
        }
    }
    out
}

/// Classifies a trailing parenthetical and adds its aliases to `aliases`.
fn end_aliases(
    content: &str,
    primary: &str,
    aliases: &mut Vec<(String, Link)>,
    dropped: &mut Vec<(String, DropReason)>,
) {
    let lower = content.to_lowercase();
    if lower.starts_with("a form of")
        || lower.starts_with("see ")
        || lower.starts_with("e.g.")
        || lower.contains(';')
    {
        dropped.push((content.to_owned(), DropReason::Note));
        return;
    }
    let mut rest = content;
    let mut also = false;
    for prefix in ["also called ", "also known as ", "aka ", "a.k.a. ", "or "] {
        if lower.starts_with(prefix) {
            rest = &content[prefix.len()..];
            also = prefix != "or ";
            break;
        }
    }
    if !also && (lower.contains(" and ") || lower.contains(", and")) {
        // `Center console (front and rear)`, `Rubber (extruded and molded)`.
        dropped.push((content.to_owned(), DropReason::Qualifier));
        return;
    }
    let primary_words = primary.split_whitespace().count();
    let same = |alias: &str| fold_key(&alias.to_lowercase()) == fold_key(&primary.to_lowercase());
    for alias in split_list(rest) {
        if is_acronym(alias) || same(alias) {
            aliases.push((alias.to_owned(), Link::Strong));
        } else if !also && primary_words >= 2 && alias.split_whitespace().count() == 1 {
            // `Coolant hose (clamp)`, `Rear spoiler (wing)`: one word after a longer name
            // narrows or describes it; it is not another name for the whole.
            dropped.push((alias.to_owned(), DropReason::Qualifier));
        } else {
            aliases.push((alias.to_owned(), if also { Link::Strong } else { Link::Weak }));
        }
    }
}

/// Splits `a, b or c` into its members.
fn split_list(text: &str) -> Vec<&str> {
    text.split(", ")
        .flat_map(|part| part.split(" or "))
        .map(|s| s.trim().trim_end_matches(',').trim())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Splits an item (parentheticals removed) into names, each with its slash, ` / ` and `or`
/// aliases.
fn split_names(base: &str) -> Vec<(String, Vec<(String, Link)>)> {
    let mut names: Vec<(String, Vec<(String, Link)>)> = Vec::new();
    let mut alternatives = base.split(" / ").map(str::trim).filter(|s| !s.is_empty());
    let Some(main) = alternatives.next() else {
        return names;
    };
    let alternatives: Vec<&str> = alternatives.collect();
    for segment in main.split(", ").map(str::trim).filter(|s| !s.is_empty()) {
        for part in split_and(segment) {
            let mut ors = part.split(" or ").map(str::trim).filter(|s| !s.is_empty());
            let Some(first) = ors.next() else { continue };
            let mut aliases: Vec<(String, Link)> =
                ors.map(|o| (o.to_owned(), Link::Weak)).collect();
            let mut slashed = expand_slash(first).into_iter();
            let primary = slashed.next().unwrap_or_default();
            aliases.splice(0..0, slashed.map(|s| (s, Link::Strong)));
            names.push((primary, aliases));
        }
    }
    // `Navigation system / GPS navigation device`: whole-name alternatives of the first name.
    if let Some(first) = names.first_mut() {
        for alt in alternatives {
            first.1.extend(expand_slash(alt).into_iter().map(|s| (s, Link::Strong)));
        }
    }
    names
}

/// Splits `A and B` into part names. When a longer name is followed by one word
/// (`Exhaust clamp and bracket`), the word shares the name's modifiers (`exhaust bracket`).
fn split_and(segment: &str) -> Vec<String> {
    let parts: Vec<&str> =
        segment.split(" and ").map(str::trim).filter(|s| !s.is_empty()).collect();
    let Some((first, rest)) = parts.split_first() else {
        return Vec::new();
    };
    let first_words: Vec<&str> = first.split_whitespace().collect();
    let mut out = vec![(*first).to_owned()];
    for part in rest {
        let words: Vec<&str> = part.split_whitespace().collect();
        if first_words.len() >= 2 && words.len() == 1 {
            let mut shared = first_words[..first_words.len() - 1].to_vec();
            shared.push(words[0]);
            out.push(shared.join(" "));
        } else {
            out.push((*part).to_owned());
        }
    }
    out
}

/// Expands one slash token: `Trunk/boot latch` → `Trunk latch`, `boot latch`. `A/C` and other
/// slashes between single letters are abbreviations and stay.
fn expand_slash(name: &str) -> Vec<String> {
    let words: Vec<&str> = name.split_whitespace().collect();
    let slashed = words.iter().position(|w| {
        w.contains('/') && w.split('/').any(|p| p.chars().count() > 1) && !w.starts_with('/')
    });
    let Some(i) = slashed else {
        return vec![name.to_owned()];
    };
    words[i]
        .split('/')
        .filter(|alt| !alt.is_empty())
        .map(|alt| {
            let mut v = words.clone();
            v[i] = alt;
            v.join(" ")
        })
        .collect()
}

struct Paren {
    content: String,
    words_before: usize,
    at_end: bool,
}

/// Removes parentheticals from `text`, returning the rest and each parenthetical with its
/// position (an unclosed `(` runs to the end).
fn extract_parens(text: &str) -> (String, Vec<Paren>) {
    let mut base = String::new();
    let mut parens = Vec::new();
    let mut depth = 0usize;
    let mut content = String::new();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '(' => {
                if depth > 0 {
                    content.push(c);
                }
                depth += 1;
            }
            ')' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    let tail = &text[i + 1..];
                    parens.push(Paren {
                        content: std::mem::take(&mut content),
                        words_before: base.split_whitespace().count(),
                        at_end: tail.chars().all(|c| c.is_whitespace() || c.is_ascii_punctuation()),
                    });
                    base.push(' ');
                } else {
                    content.push(c);
                }
            }
            _ if depth > 0 => content.push(c),
            _ => base.push(c),
        }
        if chars.peek().is_none() && depth > 0 {
            parens.push(Paren {
                content: std::mem::take(&mut content),
                words_before: base.split_whitespace().count(),
                at_end: true,
            });
        }
    }
    (collapse_ws(&base), parens)
}

/// Cleans a name and applies the generic-name rules, recording why a name is dropped.
fn clean_checked(raw: &str, dropped: &mut Vec<(String, DropReason)>) -> Option<String> {
    let name = clean_name(raw)?;
    let words: Vec<&str> = name.split_whitespace().collect();
    let generic = words.first().is_some_and(|w| *w == "other")
        || words.contains(&"of")
        || words.last().is_some_and(|w| GROUP_WORDS.contains(w));
    if generic {
        dropped.push((raw.trim().to_owned(), DropReason::Generic));
        return None;
    }
    if words.len() > MAX_WORDS {
        dropped.push((raw.trim().to_owned(), DropReason::TooLong));
        return None;
    }
    Some(name)
}

/// Cleans one name: whitespace collapsed, outer punctuation trimmed, position qualifiers
/// (`Front Left Side`) removed, lower-cased except acronyms, last word made singular.
/// Returns `None` when nothing is left.
pub fn clean_name(raw: &str) -> Option<String> {
    let text = collapse_ws(raw);
    let text = text.trim_matches(|c: char| {
        c.is_whitespace() || matches!(c, '.' | ',' | ':' | ';' | '"' | '\'' | '*' | '-' | '–')
    });
    let mut words: Vec<&str> = text.split_whitespace().collect();
    let skip = position_prefix(&words);
    words.drain(..skip);
    if words.is_empty() {
        return None;
    }
    // A name written entirely in capitals (`A/C INNER PLATE`) is shouting, not acronyms.
    let shouting = words.len() >= 2 && words.iter().all(|w| !w.chars().any(|c| c.is_lowercase()));
    let mut out: Vec<String> = words
        .iter()
        .map(|w| if !shouting && is_acronym(w) { (*w).to_owned() } else { w.to_lowercase() })
        .collect();
    let last = out.len() - 1;
    if !is_acronym(&out[last]) {
        out[last] = singular(&out[last]);
    }
    Some(out.join(" "))
}

/// How many leading words are a position qualifier (`Front Right Side`, `FR Side`, `Left`).
fn position_prefix(words: &[&str]) -> usize {
    let lower: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
    let is = |i: usize, set: &[&str]| lower.get(i).is_some_and(|w| set.contains(&w.as_str()));
    let mut n = if is(0, &["front", "rear", "back"]) && is(1, &["left", "right"]) {
        2
    } else if is(0, &["left", "right"])
        || words.first().is_some_and(|w| ["FR", "FL", "RR", "RL"].contains(w))
    {
        1
    } else {
        0
    };
    if n > 0 && is(n, &["side"]) {
        n += 1;
    }
    // Never strip the whole name.
    if n >= words.len() {
        0
    } else {
        n
    }
}

/// Whether a word is an acronym to keep in capitals: 2 to 6 ASCII capital letters.
pub fn is_acronym(word: &str) -> bool {
    (2..=6).contains(&word.len()) && word.bytes().all(|b| b.is_ascii_uppercase())
}

/// Words ending in `s` that are singular already.
const SINGULAR_S: &[&str] = &["chassis", "lens", "series", "canvas", "atlas", "bias", "always"];

/// The singular of one lower-case word, by English spelling rules good enough for part names
/// (`batteries` → `battery`, `brushes` → `brush`, `tyres` → `tyre`, `glass` stays).
pub fn singular(word: &str) -> String {
    if word == "lenses" {
        return "lens".into();
    }
    if word.len() <= 3
        || SINGULAR_S.contains(&word)
        || !word.ends_with('s')
        || word.ends_with("ss")
        || word.ends_with("us")
        || word.ends_with("is")
        || word.ends_with("ics")
    {
        return word.to_owned();
    }
    if let Some(stem) = word.strip_suffix("ies") {
        return format!("{stem}y");
    }
    for suffix in ["sses", "ches", "shes", "xes", "zes"] {
        if word.ends_with(suffix) {
            return word[..word.len() - 2].to_owned();
        }
    }
    word[..word.len() - 1].to_owned()
}

/// The initials of a name, upper case, counting hyphenated parts as words
/// (`Anti-block system` → `ABS`).
pub fn initials(name: &str) -> String {
    name.split(|c: char| c.is_whitespace() || c == '-')
        .filter_map(|w| w.chars().next())
        .flat_map(char::to_uppercase)
        .collect()
}

/// The key under which spellings of one name are merged: separators removed, so that
/// `glowplug`, `glow plug` and `glow-plug` are one name.
pub fn fold_key(surface: &str) -> String {
    surface.chars().filter(|c| !c.is_whitespace() && *c != '-').collect()
}

/// Collapses runs of whitespace (including no-break spaces) into one space and trims.
pub fn collapse_ws(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c == '\u{a0}')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Case {
        item: &'static str,
        /// `primary = alias!, alias?` per name, `!` strong, `?` weak, names joined by ` | `.
        names: &'static str,
        dropped: &'static [&'static str],
    }

    fn render(p: &Parsed) -> String {
        p.names
            .iter()
            .map(|n| {
                let aliases: Vec<String> = n
                    .aliases
                    .iter()
                    .map(|(a, l)| format!("{a}{}", if *l == Link::Strong { "!" } else { "?" }))
                    .collect();
                if aliases.is_empty() {
                    n.primary.clone()
                } else {
                    format!("{} = {}", n.primary, aliases.join(", "))
                }
            })
            .collect::<Vec<_>>()
            .join(" | ")
    }

    const CASES: &[Case] = &[
        Case { item: "Grille (also called grill)", names: "grille = grill!", dropped: &[] },
        Case {
            item: "Fender (wing or mudguard)",
            names: "fender = wing?, mudguard?",
            dropped: &[],
        },
        Case { item: "Tire/Tyre", names: "tire = tyre!", dropped: &[] },
        Case { item: "Bonnet/hood", names: "bonnet = hood!", dropped: &[] },
        Case { item: "Muffler (Silencer)", names: "muffler = silencer?", dropped: &[] },
        Case { item: "Brakes", names: "brake", dropped: &[] },
        Case { item: "  Body control module ", names: "body control module", dropped: &[] },
        Case { item: "A/C INNER PLATE", names: "a/c inner plate", dropped: &[] },
        Case { item: "A/C Compressor", names: "a/c compressor", dropped: &[] },
        Case { item: "MAP sensor", names: "MAP sensor", dropped: &[] },
        Case { item: "TPMS", names: "TPMS", dropped: &[] },
        Case {
            item: "Anti-lock braking system (ABS)",
            names: "anti-lock braking system = ABS!",
            dropped: &[],
        },
        Case { item: "Trunk/boot/hatch", names: "trunk = boot!, hatch!", dropped: &[] },
        Case { item: "Trunk/boot latch", names: "trunk latch = boot latch!", dropped: &[] },
        Case {
            item: "Park brake lever/handle (hand brake)",
            names: "park brake lever = park brake handle!, hand brake?",
            dropped: &[],
        },
        Case {
            item: "Odometer (also called milometer or mileometers)",
            names: "odometer = milometer!, mileometer!",
            dropped: &[],
        },
        Case {
            item: "Door lock and power door locks",
            names: "door lock | power door lock",
            dropped: &[],
        },
        Case {
            item: "Exhaust clamp and bracket",
            names: "exhaust clamp | exhaust bracket",
            dropped: &[],
        },
        Case {
            item: "Diesel engine, petrol engine (gasoline engine)",
            names: "diesel engine | petrol engine = gasoline engine?",
            dropped: &[],
        },
        Case {
            item: "Front Left Side Outer door handle",
            names: "outer door handle",
            dropped: &[],
        },
        Case { item: "Rear Right Quarter Glass", names: "quarter glass", dropped: &[] },
        Case { item: "Front spoiler (air dam)", names: "front spoiler = air dam?", dropped: &[] },
        Case { item: "Rear spoiler (wing)", names: "rear spoiler", dropped: &["wing"] },
        Case { item: "Coolant hose (clamp)", names: "coolant hose", dropped: &["clamp"] },
        Case {
            item: "Center console (front and rear)",
            names: "center console",
            dropped: &["front and rear"],
        },
        Case {
            item: "Steering rack (a form of steering gear; see also rack and pinion)",
            names: "steering rack",
            dropped: &["a form of steering gear; see also rack and pinion"],
        },
        Case {
            item: "Fuel tank (or fuel filler) door",
            names: "fuel tank door = fuel filler door?",
            dropped: &[],
        },
        Case {
            item: "Radiator (fan) shroud",
            names: "radiator shroud = radiator fan shroud?",
            dropped: &[],
        },
        Case {
            item: "LPG (Liquefied petroleum gas) system assembly",
            names: "LPG system assembly",
            dropped: &["Liquefied petroleum gas"],
        },
        Case {
            item: "Navigation system / GPS navigation device",
            names: "navigation system = GPS navigation device!",
            dropped: &[],
        },
        Case { item: "Roll cage or Exo cage", names: "roll cage = exo cage?", dropped: &[] },
        Case { item: "Gasket: Flat, moulded, profiled", names: "gasket", dropped: &[] },
        Case { item: "Other seat components", names: "", dropped: &["Other seat components"] },
        Case { item: "Ignition coil parts", names: "", dropped: &["Ignition coil parts"] },
        Case {
            item: "Parts and functions of starter system",
            names: "",
            dropped: &["Parts", "functions of starter system"],
        },
        Case { item: "Diode & Plate Assembly", names: "diode | plate assembly", dropped: &[] },
        Case {
            item: "Universal joint (UJ, card-an joint)",
            names: "universal joint = UJ!, card-an joint?",
            dropped: &[],
        },
        Case { item: "Wiring harnesses", names: "wiring harness", dropped: &[] },
        Case {
            item: "Gear stick (gear-stick, gear lever)",
            names: "gear stick = gear-stick!, gear lever?",
            dropped: &[],
        },
        Case { item: "Batteries", names: "battery", dropped: &[] },
        Case { item: "Chassis", names: "chassis", dropped: &[] },
        Case { item: "", names: "", dropped: &[] },
    ];

    #[test]
    fn items_become_names_aliases_and_drops() {
        for case in CASES {
            let parsed = parse_item(case.item);
            assert_eq!(render(&parsed), case.names, "item {:?}", case.item);
            let dropped: Vec<&str> = parsed.dropped.iter().map(|(t, _)| t.as_str()).collect();
            assert_eq!(dropped, case.dropped, "dropped of {:?}", case.item);
        }
    }

    #[test]
    fn singular_table() {
        let cases = [
            ("batteries", "battery"),
            ("brushes", "brush"),
            ("switches", "switch"),
            ("boxes", "box"),
            ("harnesses", "harness"),
            ("glass", "glass"),
            ("shoes", "shoe"),
            ("hoses", "hose"),
            ("tyres", "tyre"),
            ("gauges", "gauge"),
            ("chassis", "chassis"),
            ("electronics", "electronics"),
            ("gas", "gas"),
            ("lenses", "lens"),
            ("rims", "rim"),
        ];
        for (plural, single) in cases {
            assert_eq!(singular(plural), single, "{plural}");
        }
    }

    #[test]
    fn initials_count_hyphenated_words() {
        assert_eq!(initials("Anti-block system"), "ABS");
        assert_eq!(initials("Tire pressure monitoring system"), "TPMS");
    }

    #[test]
    fn fold_key_merges_joined_and_hyphenated_spellings() {
        assert_eq!(fold_key("glow plug"), fold_key("glowplug"));
        assert_eq!(fold_key("seat-belt"), fold_key("seat belt"));
        assert_ne!(fold_key("ABS"), fold_key("abs"));
    }
}
