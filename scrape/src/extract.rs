//! Finding list items in HTML pages and plain text lists.
//!
//! Three shapes are understood:
//! - **MediaWiki pages** (found by their `mw-parser-output` / `mw-content-text` block): only the
//!   article body is read; `h2`/`h3` headings (their `mw-headline` text, without the `[edit]`
//!   links) become categories; every `li` is an item (a nested list's items are items of their
//!   own, and the parent keeps only its own text); a table cell without lists is an item per
//!   line. The table of contents, navigation boxes, hatnotes, references and the sections
//!   `See also`, `References`, `External links`, `Notes`, `Further reading` are skipped.
//! - **Other HTML pages**: every element matching a CSS selector (default `li`) is an item, with
//!   the nearest heading before it as category; `nav`, `header`, `footer` and `aside` blocks
//!   are skipped.
//! - **Plain text lists**: one item per line (CRLF or LF, surrounding spaces, blank lines and
//!   `#` comment lines ignored).

use scraper::{ElementRef, Html, Node, Selector};

/// One item as found in a source, before normalisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawItem {
    /// The item's own text, entities decoded and inline markup flattened.
    pub text: String,
    /// The heading it was listed under; empty when the source has none.
    pub category: String,
}

/// The items of one source, and the items found in non-part sections.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extracted {
    /// Items to normalise, in document order.
    pub items: Vec<RawItem>,
    /// `(text, section)` of items in sections that list no parts.
    pub skipped: Vec<(String, String)>,
}

/// Section titles (lower case) whose lists are not parts.
const NON_PART_SECTIONS: &[&str] = &[
    "see also",
    "references",
    "external links",
    "notes",
    "further reading",
    "bibliography",
    "sources",
    "contents",
    "navigation menu",
];

/// Classes of MediaWiki blocks that are not article content.
const SKIP_CLASSES: &[&str] = &[
    "toc",
    "navbox",
    "vertical-navbox",
    "reflist",
    "references",
    "reference",
    "mw-editsection",
    "hatnote",
    "noprint",
    "catlinks",
    "printfooter",
    "mw-jump",
    "metadata",
    "ambox",
    "sistersitebox",
    "portal",
];

/// Extracts items from an HTML page. `selector` is used for pages that are not MediaWiki
/// articles (`None`: every `li`).
pub fn extract_html(html: &str, selector: Option<&Selector>) -> Extracted {
    let doc = Html::parse_document(html);
    let wiki_root = ["div.mw-parser-output", "#mw-content-text"]
        .iter()
        .filter_map(|s| Selector::parse(s).ok())
        .find_map(|s| doc.select(&s).next());
    let mut walker = Walker::default();
    match wiki_root {
        Some(root) => {
            walker.wiki = true;
            walker.walk(root, &|e| is_wiki_item(e));
        }
        None => {
            let default = Selector::parse("li").expect("`li` is a valid selector");
            let selector = selector.unwrap_or(&default);
            let matched: std::collections::HashSet<_> =
                doc.select(selector).map(|e| e.id()).collect();
            walker.walk(doc.root_element(), &|e| matched.contains(&e.id()));
        }
    }
    walker.out
}

/// Extracts items from a plain text list, one per line.
pub fn extract_text(text: &str) -> Extracted {
    let items = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| RawItem { text: l.to_owned(), category: String::new() })
        .collect();
    Extracted { items, skipped: Vec::new() }
}

fn is_wiki_item(e: ElementRef<'_>) -> bool {
    match e.value().name() {
        "li" => true,
        "td" | "th" => !e
            .descendants()
            .filter_map(ElementRef::wrap)
            .any(|d| matches!(d.value().name(), "li" | "ul" | "ol" | "table")),
        _ => false,
    }
}

#[derive(Default)]
struct Walker {
    wiki: bool,
    category: String,
    /// The level of the non-part section being skipped, if any.
    skip_level: Option<u8>,
    out: Extracted,
}

impl Walker {
    fn skip(&self, e: ElementRef<'_>) -> bool {
        let v = e.value();
        if matches!(v.name(), "script" | "style" | "noscript" | "template") {
            return true;
        }
        if v.attr("role") == Some("navigation") {
            return true;
        }
        if self.wiki {
            v.id() == Some("toc") || v.classes().any(|c| SKIP_CLASSES.contains(&c))
        } else {
            matches!(v.name(), "nav" | "header" | "footer" | "aside")
        }
    }

    fn walk(&mut self, el: ElementRef<'_>, is_item: &dyn Fn(ElementRef<'_>) -> bool) {
        for child in el.children() {
            let Some(c) = ElementRef::wrap(child) else { continue };
            if self.skip(c) {
                continue;
            }
            let name = c.value().name();
            if let Some(level) = heading_level(name) {
                self.heading(level, &heading_text(c));
                continue;
            }
            if is_item(c) {
                let lines = own_lines(c, self.wiki);
                let lines: Vec<String> = if name == "li" { vec![lines.join(" ")] } else { lines };
                for text in lines.into_iter().map(|l| crate::normalize::collapse_ws(&l)) {
                    if text.is_empty() {
                        continue;
                    }
                    if self.skip_level.is_some() {
                        self.out.skipped.push((text, self.category.clone()));
                    } else {
                        self.out.items.push(RawItem { text, category: self.category.clone() });
                    }
                }
            }
            // Nested lists inside an item are items of their own.
            self.walk(c, is_item);
        }
    }

    fn heading(&mut self, level: u8, text: &str) {
        if self.skip_level.is_some_and(|s| level > s) {
            return;
        }
        let lower = text.to_lowercase();
        self.skip_level = NON_PART_SECTIONS.contains(&lower.as_str()).then_some(level);
        self.category = text.to_owned();
    }
}

fn heading_level(name: &str) -> Option<u8> {
    match name {
        "h1" => Some(1),
        "h2" => Some(2),
        "h3" => Some(3),
        "h4" => Some(4),
        "h5" => Some(5),
        "h6" => Some(6),
        _ => None,
    }
}

/// A heading's title: the `mw-headline` span when there is one, without `[edit]` links.
fn heading_text(h: ElementRef<'_>) -> String {
    let headline = Selector::parse(".mw-headline").expect("valid selector");
    let source = h.select(&headline).next().unwrap_or(h);
    let text = crate::normalize::collapse_ws(&own_lines(source, true).join(" "));
    text.trim_end_matches("[edit]").trim().to_owned()
}

/// The element's own text, split at `<br>`, leaving out nested lists (their items are items of
/// their own) and non-content blocks.
fn own_lines(el: ElementRef<'_>, wiki: bool) -> Vec<String> {
    let lines = std::cell::RefCell::new(vec![String::new()]);
    collect_text(
        el,
        wiki,
        &mut |s| lines.borrow_mut().last_mut().expect("one line").push_str(s),
        &mut || lines.borrow_mut().push(String::new()),
    );
    lines.into_inner()
}

fn collect_text(
    el: ElementRef<'_>,
    wiki: bool,
    text: &mut dyn FnMut(&str),
    line_break: &mut dyn FnMut(),
) {
    for child in el.children() {
        match child.value() {
            Node::Text(t) => text(t),
            Node::Element(e) => {
                let name = e.name();
                let reference = name == "sup" && e.classes().any(|c| c == "reference");
                if reference || matches!(name, "ul" | "ol" | "dl" | "table" | "script" | "style") {
                    continue;
                }
                if wiki && e.classes().any(|c| SKIP_CLASSES.contains(&c)) {
                    continue;
                }
                if name == "br" {
                    line_break();
                    continue;
                }
                if let Some(c) = ElementRef::wrap(child) {
                    // Block children end a word; inline ones (`<a>`, `<i>`, `<sub>`) do not.
                    let block = matches!(name, "div" | "p" | "li" | "td" | "th");
                    if block {
                        text(" ");
                    }
                    collect_text(c, wiki, text, line_break);
                    if block {
                        text(" ");
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lists_tolerate_crlf_trailing_spaces_and_no_final_newline() {
        let got = extract_text("ABS\r\nBody control module \r\n\r\nABS\r\nWiper blade");
        let texts: Vec<&str> = got.items.iter().map(|i| i.text.as_str()).collect();
        assert_eq!(texts, ["ABS", "Body control module", "ABS", "Wiper blade"]);
    }

    #[test]
    fn inline_markup_is_flattened_and_entities_decoded() {
        let html = r#"<div class="mw-parser-output"><h2><span class="mw-headline">Fluids</span></h2>
            <ul><li>Sulfuric acid (H<sub>2</sub>SO<sub>4</sub>)</li><li>Nuts &amp; <i>bolts</i><sup class="reference">[1]</sup></li></ul></div>"#;
        let got = extract_html(html, None);
        let texts: Vec<&str> = got.items.iter().map(|i| i.text.as_str()).collect();
        assert_eq!(texts, ["Sulfuric acid (H2SO4)", "Nuts & bolts"]);
        assert!(got.items.iter().all(|i| i.category == "Fluids"));
    }

    #[test]
    fn generic_pages_use_the_selector_and_skip_navigation() {
        let html = "<html><body><nav><ul><li>Home</li></ul></nav><h2>Parts</h2>\
            <ul><li class='p'>Wheel</li><li>Not me</li></ul><footer><li class='p'>Contact</li></footer></body></html>";
        let sel = Selector::parse("li.p").unwrap();
        let got = extract_html(html, Some(&sel));
        assert_eq!(got.items, [RawItem { text: "Wheel".into(), category: "Parts".into() }]);
        let all = extract_html(html, None);
        let texts: Vec<&str> = all.items.iter().map(|i| i.text.as_str()).collect();
        assert_eq!(texts, ["Wheel", "Not me"]);
    }
}
