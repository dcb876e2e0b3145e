#!/usr/bin/env python3
"""Writes the embedded default reviews in data/reviews/ (run from the repository root).

The reviews are written for this project from templates (no third-party text). The files copy
the Kaggle Edmunds format byte for byte, quirks included, so that the default run exercises the
same reader paths as the real corpus:

- header `,Review_Date,Author_Name,Vehicle_Title,Review_Title,Review,Rating` (empty index name);
- ` on MM/DD/YY HH:MM AM (PDT)` dates with a leading space, author names with a trailing space,
  reviews with a leading space, ratings in eighths;
- bare carriage returns inside quoted and unquoted Review fields (line breaks of the review);
- CRLF records in one file, LF without a final newline in another, a one-review file;
- fields quoted only when needed, `""` doubling, an empty review (a single space).

Deterministic: the same script writes the same bytes.
"""
import random

rng = random.Random(20261122)

MAKES = {
    "Scraped_Car_Review_acme.csv": ("Acme", ["Roadster", "Sedan", "Wagon"], "\r\n", True, 160),
    "Scrapped_Car_Reviews_Borealis.csv": ("Borealis", ["Trail SUV", "Pickup"], "\n", False, 120),
    "Scraped_Car_Review_corvid.csv": ("Corvid", ["Coupe"], "\r\n", True, 1),
}

PARTS = [
    # (text used in the review, plural-ish variant)
    "brake pads", "brakes", "tires", "transmission", "engine", "seats", "headlights", "sunroof",
    "a/c", "air conditioning", "battery", "steering wheel", "windshield", "wipers", "radio",
    "navigation system", "cruise control", "timing belt", "alternator", "starter", "suspension",
    "shocks", "muffler", "exhaust", "bumper", "doors", "power windows", "side mirrors", "trunk",
    "hood", "dashboard", "airbags", "seat belts", "clutch", "spark plugs", "radiator",
    "fuel pump", "water pump", "cup holders", "speakers", "backup camera", "tail lights",
    "brake rotors", "sun roof", "tyres", "heated seats", "gas pedal", "head gasket",
]

GOOD = [
    "The {a} {is_are} excellent and the {b} {b_is_are} better than I expected.",
    "Love the {a}. The {b} also {works_work} great after {miles} miles.",
    "After {miles} miles the {a} still {feels_feel} brand new.",
    "Best feature is the {a}; the {b} {b_is_are} a close second.",
    "The dealer checked the {a} and everything was fine.",
]
BAD = [
    "The {a} failed at {miles} miles and the dealer replaced the {b} too.",
    "I had to replace the {a} twice. The {b} {makes_make} a grinding noise.",
    "My only complaint is the {a}, which {is_are} noisy on the highway.",
    "The {a} {is_are} poorly designed and the {b} rattled from day one.",
    "Within a year the {a} started leaking and nobody could fix the {b}.",
]
NEUTRAL = [
    "Gas mileage is about {mpg} mpg in mixed driving.",
    "We drove it across three states with the kids and a dog.",
    "Overall a solid car for the money.",
    "The salesman was friendly and the paperwork took an hour.",
    "It handles well in the rain and parks easily downtown.",
    "I would buy it again.",
    "Resale value seems strong in our area.",
]
TITLES_GOOD = ["Great car", "Love it", "Best purchase in years", "Solid, fun, cheap to run", "So far so good"]
TITLES_BAD = ["Disappointed", "Not again", "Lemon?", "Too many problems, sadly", "Buyer beware"]
NAMES = ["Ann", "Bob M.", "carguy77", "Dee", "E. Ortiz", "frank_w", "Gia", "Hal", "Ines", "J.T.",
         "kimmy", "Lou", "Mara", "Ned", "Otto", "Pia", "Quinn", "Raj", "Sue", "Tom"]


def plural(text):
    return text.endswith("s") and not text.endswith("ss") or text in {"brakes", "tyres"}


def fill(template, a, b):
    pa = plural(a)
    return template.format(
        a=a, b=b, miles=rng.choice([5000, 12000, 30000, 48000, 75000]), mpg=rng.randint(18, 41),
        is_are="are" if pa else "is", b_is_are="are" if plural(b) else "is", works_work="work" if plural(b) else "works",
        feels_feel="feel" if pa else "feels", makes_make="make" if plural(b) else "makes",
    )


def review(rating):
    sentences = []
    n_parts = rng.choice([0, 1, 1, 2, 2, 3])
    parts = rng.sample(PARTS, k=max(n_parts, 2))
    pool = GOOD if rating >= 3.5 else BAD
    for i in range(0, n_parts, 2):
        sentences.append(fill(rng.choice(pool), parts[i], parts[i + 1] if i + 1 < len(parts) else parts[0]))
    for _ in range(rng.randint(1, 3)):
        sentences.insert(rng.randrange(len(sentences) + 1), fill(rng.choice(NEUTRAL), "", ""))
    text = "  ".join(sentences) if rng.random() < 0.3 else " ".join(sentences)
    if rng.random() < 0.25 and len(sentences) > 1:
        # A line break of the review, as the Kaggle files keep it: a bare carriage return.
        cut = text.find(". ") + 1
        text = text[:cut] + "\r" + text[cut + 1:]
    if rng.random() < 0.1:
        text += ' The manual calls it "fine", I call it, well, fine.'
    return text


def csv_field(value):
    if any(c in value for c in ',"\n') or (value.startswith('"')):
        return '"' + value.replace('"', '""') + '"'
    return value


def main():
    for name, (make, models, eol, final_newline, count) in MAKES.items():
        lines = [",Review_Date,Author_Name,Vehicle_Title,Review_Title,Review,Rating"]
        for i in range(count):
            rating = rng.choice([1, 1.625, 2, 2.375, 3, 3.5, 3.875, 4, 4.25, 4.5, 4.625, 4.875, 5, 5, 5])
            year = rng.randint(2005, 2018)
            month, day = rng.randint(1, 12), rng.randint(1, 28)
            hour, minute = rng.randint(0, 23), rng.randint(0, 59)
            ampm = "AM" if hour < 12 else "PM"
            date = f" on {month:02d}/{day:02d}/{year % 100:02d} {hour:02d}:{minute:02d} {ampm} (PDT)"
            model = rng.choice(models)
            title_vehicle = f"{year} {make} {model} 4dr {model.split()[-1]} (2.0L 4cyl 6A)"
            title = rng.choice(TITLES_GOOD if rating >= 3.5 else TITLES_BAD)
            body = " " if (name.startswith("Scrapped") and i == 7) else " " + review(rating)
            rating_text = f"{rating:g}"
            fields = [str(i), date, rng.choice(NAMES) + " ", title_vehicle, title, body, rating_text]
            lines.append(",".join(csv_field(f) for f in fields))
        data = eol.join(lines) + (eol if final_newline else "")
        with open(f"data/reviews/{name}", "w", newline="", encoding="utf-8") as f:
            f.write(data)


if __name__ == "__main__":
    main()
