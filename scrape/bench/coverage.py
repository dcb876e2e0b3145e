# Approximate labeling coverage of lexicons on the Edmunds reviews (not the real labeler):
# share of reviews with at least one whole-word match; ASCII-case-insensitive except
# all-capital surfaces; plural of each surface and joined/hyphenated two-word forms added.
#   .venv-bench/bin/python scrape/bench/coverage.py data/lexicon-handmade.csv data/lexicon.csv
# Approximate coverage: share of Edmunds reviews with at least one whole-word lexicon match
# (case-insensitive; all-capital surfaces case-sensitive; plural of the last word added).
import csv, re, sys, glob, io
csv.field_size_limit(10**9)
def plural(w):
    if re.search(r'[^aeiou]y$', w): return w[:-1] + 'ies'
    if re.search(r'(s|sh|ch|x|z)$', w): return w + 'es'
    return w + 's'
def regexes(path):
    rows = list(csv.DictReader(open(path)))
    ci, cs = set(), set()
    for r in rows:
        s = r['surface']
        forms = {s, plural(s)}
        if ' ' in s and s.count(' ') == 1 and s == s.lower():
            a, b = s.split(' '); forms |= {a + b, a + '-' + b, plural(a + b)}
        for f in forms:
            (cs if (f.upper() == f and any(c.isalpha() for c in f)) else ci).add(f)
    import ahocorasick
    def auto(forms, lower):
        a = ahocorasick.Automaton()
        for f in forms:
            a.add_word(f.lower() if lower else f, f)
        a.make_automaton()
        return a
    return (auto(ci, True), auto(cs, False), len({r['canonical'] for r in rows}), len(rows))
def hits(a, text):
    for end, f in a.iter(text):
        start = end - len(f) + 1
        if (start == 0 or not text[start-1].isalnum()) and (end + 1 == len(text) or not text[end+1].isalnum()):
            return True
    return False
reviews = []
for f in sorted(glob.glob('../shared/data/edmunds/*.csv')):
    text = re.sub(r'\r(?!\n)', ' ', open(f, newline='', encoding='utf-8').read())
    for row in csv.DictReader(io.StringIO(text, newline='')):
        reviews.append(row.get('Review') or '')
print(f'reviews read: {len(reviews)}')
for path in sys.argv[1:]:
    ci, cs, ncanon, nsurf = regexes(path)
    hit = sum(1 for t in reviews if hits(ci, t.lower()) or hits(cs, t))
    print(f'{path}: {ncanon} canonicals, {nsurf} surfaces, reviews with >=1 part: {hit} ({100*hit/len(reviews):.1f}%)')
