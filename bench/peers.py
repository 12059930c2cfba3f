"""Peers doing the same work as pseudolab on the reference export, one per subcommand.

    python bench/peers.py pandas-apply      --input F.csv --output DIR --keyring K
    python bench/peers.py pandas-vectorised --input F.csv --output DIR --keyring K
    python bench/peers.py presidio          --input F.csv --output DIR --keyring K --sample N

- `pandas-apply`: a typical pandas script. The whole file in a DataFrame, one Python
  function per row through `DataFrame.apply(axis=1)`, `hmac.new` per value.
- `pandas-vectorised`: a well-written pandas script. Only the needed columns read,
  `.str`/`.dt` accessors and `pd.to_datetime` for the casts and generalisations, and
  `Series.map` of a {distinct value: token} dict for the HMAC.
  Both pandas scripts apply the policy exactly (strict dates, the NIR key, flags,
  rejections): the bench checks their output against the baseline's too.
- `presidio`: Microsoft Presidio's anonymizer (`presidio-anonymizer`) per value, on the
  first `--sample` rows, as its users apply it to tabular data: the `hash` operator on
  the identifier values, `redact` on every dropped value, and `custom` operators (a
  Python lambda) for the three generalisations. Presidio has no keyed hash and no
  normalisers: its `hash` is SHA-256 of the raw value with a salt (here a fixed secret
  salt per domain, so tokens are stable), with no NIR validation. Its output is
  therefore not comparable to pseudolab's; run_bench.py extrapolates its time.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections import Counter
from datetime import datetime

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (
    AGE_LABELS,
    AGE_TOP,
    AGE_WIDTH,
    BIRTH,
    DATE_SHAPE,
    DATETIME_SHAPE,
    DROPPED,
    GENERALISED,
    INSEE_NONE,
    INSEE_SHAPE,
    KEPT,
    MAX_YEAR,
    MIN_YEAR,
    NEEDED,
    NIR_FLAG,
    NIR_PATTERN,
    NIR_SEPARATORS,
    OUTPUT,
    OUTPUT_SCHEMA,
    REJECTED_SCHEMA,
    RESIDENCE,
    SAMPLED,
    TOKENISED,
    Clock,
    departement,
    domain_key,
    nir_body,
    plain_token,
    read_secret,
    report,
)

DATE_FORMAT = "%d/%m/%Y"
DATETIME_FORMAT = "%d/%m/%Y %H:%M"
_DATE_RE = re.compile(DATE_SHAPE)
_DATETIME_RE = re.compile(DATETIME_SHAPE)


def _write(output: str, data, rejected, flags: Counter) -> dict:
    """Write the published rows and the rejected ones; the stats line for run_bench."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    os.makedirs(output, exist_ok=True)
    table = pa.Table.from_pandas(data, schema=OUTPUT_SCHEMA, preserve_index=False)
    pq.write_table(table, os.path.join(output, "data.parquet"), compression="snappy")
    pq.write_table(
        pa.Table.from_pandas(rejected, schema=REJECTED_SCHEMA, preserve_index=False),
        os.path.join(output, "rejected.parquet"),
    )
    nested: dict[str, dict[str, int]] = {}
    for (code, column), count in sorted(flags.items()):
        if count:
            nested.setdefault(code, {})[column] = int(count)
    return {"rows_out": table.num_rows, "rows_rejected": len(rejected), "flags": nested}


# ---------------------------------------------------------------- pandas, apply per row


def _strict(text, shape: re.Pattern, fmt: str) -> tuple[datetime | None, bool]:
    """(parsed, bad): a blank is null (not bad); a present value must match exactly."""
    if not isinstance(text, str) or not text.strip():
        return None, False
    text = text.strip()
    if not shape.match(text):
        return None, True
    try:
        parsed = datetime.strptime(text, fmt)
    except ValueError:
        return None, True
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        return None, True
    return parsed, False


def pandas_apply(input_path: str, output: str, keyring: str) -> dict:
    import pandas as pd

    secret = read_secret(keyring)
    keys = {domain: domain_key(secret, domain) for _, domain, _, _ in TOKENISED}
    df = pd.read_csv(input_path, sep=";", dtype=str, keep_default_na=False, na_values=[""])
    df.index = df.index + 1  # record numbers

    def process(row) -> dict:
        birth, bad_birth = _strict(row[BIRTH], _DATE_RE, DATE_FORMAT)
        sampled, bad_sampled = _strict(row[SAMPLED], _DATETIME_RE, DATETIME_FORMAT)
        if bad_birth:
            return {"_column": BIRTH, "_reason": "invalid-date"}
        if bad_sampled:
            return {"_column": SAMPLED, "_reason": "invalid-datetime"}
        if birth is not None and sampled is not None and birth.date() > sampled.date():
            return {"_column": BIRTH, "_reason": "birth-after-reference"}
        out: dict = {"_column": None, "_reason": None}
        for column, domain, normaliser, output_name in TOKENISED:
            value = row[column]
            token, refused = None, False
            if isinstance(value, str):
                if normaliser == "nir":
                    normal = nir_body(value)
                elif normaliser == "digits":
                    normal = re.sub(r"[^0-9]", "", value) or None
                else:
                    normal = value or None
                refused = normal is None
                if normal is not None:
                    token = plain_token(keys[domain], normal)
            out[output_name] = token
            out[f"_refused_{column}"] = refused
            if normaliser == "nir":
                out[NIR_FLAG] = refused
        if birth is not None and sampled is not None:
            age = (
                sampled.year
                - birth.year
                - ((sampled.month, sampled.day) < (birth.month, birth.day))
            )
            out[GENERALISED[BIRTH]] = AGE_LABELS[min(age, AGE_TOP) // AGE_WIDTH]
        else:
            out[GENERALISED[BIRTH]] = None
        code = row[RESIDENCE]
        dep, flagged = departement(code) if isinstance(code, str) else (None, False)
        out[GENERALISED[RESIDENCE]] = dep
        out["_refused_" + RESIDENCE] = flagged
        out[GENERALISED[SAMPLED]] = f"{sampled:%Y-%m}" if sampled is not None else None
        for column in KEPT:
            value = row[column]
            out[column] = value if isinstance(value, str) else None
        return out

    result = df.apply(process, axis=1, result_type="expand")
    rejected_mask = result["_reason"].notna()
    rejected = pd.DataFrame(
        {
            "source_row": result.index[rejected_mask],
            "column": result.loc[rejected_mask, "_column"],
            "reason": result.loc[rejected_mask, "_reason"],
        }
    )
    data = result.loc[~rejected_mask]
    flags: Counter = Counter()
    for column, _, normaliser, _ in TOKENISED:
        code = "invalid-nir" if normaliser == "nir" else "empty-after-normalisation"
        flags[(code, column)] = int(data[f"_refused_{column}"].sum())
    flags[("invalid-insee-code", RESIDENCE)] = int(data["_refused_" + RESIDENCE].sum())
    data = data[list(OUTPUT)].astype({NIR_FLAG: bool})
    return {"rows_in": len(df), **_write(output, data, rejected, flags)}


# ---------------------------------------------------------------- pandas, vectorised


def pandas_vectorised(input_path: str, output: str, keyring: str) -> dict:
    import numpy as np
    import pandas as pd

    secret = read_secret(keyring)
    keys = {domain: domain_key(secret, domain) for _, domain, _, _ in TOKENISED}
    df = pd.read_csv(
        input_path,
        sep=";",
        dtype=str,
        keep_default_na=False,
        na_values=[""],
        usecols=list(NEEDED),
    )
    df.index = df.index + 1

    def strict(column: str, shape: str, fmt: str):
        text = df[column].str.strip()
        text = text.mask(text == "")
        shaped = text.str.fullmatch(shape.strip("^$"), na=False).astype(bool)
        parsed = pd.to_datetime(text.where(shaped), format=fmt, errors="coerce")
        ok = parsed.notna() & parsed.dt.year.between(MIN_YEAR, MAX_YEAR)
        return parsed.where(ok), text.notna() & ~ok

    birth, bad_birth = strict(BIRTH, DATE_SHAPE, DATE_FORMAT)
    sampled, bad_sampled = strict(SAMPLED, DATETIME_SHAPE, DATETIME_FORMAT)
    after = birth.dt.normalize() > sampled.dt.normalize()
    reason = pd.Series(None, index=df.index, dtype=object)
    column = pd.Series(None, index=df.index, dtype=object)
    reason[after], column[after] = "birth-after-reference", BIRTH
    reason[bad_sampled], column[bad_sampled] = "invalid-datetime", SAMPLED
    reason[bad_birth], column[bad_birth] = "invalid-date", BIRTH
    rejected_mask = reason.notna()
    rejected = pd.DataFrame(
        {
            "source_row": df.index[rejected_mask],
            "column": column[rejected_mask],
            "reason": reason[rejected_mask],
        }
    )
    keep = ~rejected_mask
    df, birth, sampled = df[keep], birth[keep], sampled[keep]

    out = pd.DataFrame(index=df.index)
    flags: Counter = Counter()
    for name, domain, normaliser, output_name in TOKENISED:
        values = df[name]
        if normaliser == "nir":
            cleaned = values.str.upper().str.replace(NIR_SEPARATORS, "", regex=True)
            valid = cleaned.str.fullmatch(NIR_PATTERN.strip("^$"), na=False).astype(bool)
            has_key = valid & (cleaned.str.len() == 15)
            body = cleaned.str[:13]
            digits = body.str.replace("2A", "19").str.replace("2B", "18")
            number = pd.to_numeric(digits.where(has_key)).fillna(0).astype("int64")
            given = pd.to_numeric(cleaned.str[13:15].where(has_key)).fillna(0).astype("int64")
            valid &= ~has_key | (97 - number % 97 == given)
            normal = body.where(valid)
            refused = values.notna() & ~valid
            code = "invalid-nir"
            out[NIR_FLAG] = refused
        else:
            normal = (
                values.str.replace(r"[^0-9]", "", regex=True) if normaliser == "digits" else values
            )
            refused = normal == ""
            normal = normal.mask(refused)
            code = "empty-after-normalisation"
        key = keys[domain]
        mapping = {value: plain_token(key, value) for value in normal.dropna().unique()}
        out[output_name] = normal.map(mapping)
        flags[(code, name)] = int(refused.sum())

    age = (
        sampled.dt.year
        - birth.dt.year
        - ((sampled.dt.month * 100 + sampled.dt.day) < (birth.dt.month * 100 + birth.dt.day))
    )
    band = (age.clip(upper=AGE_TOP) // AGE_WIDTH).fillna(-1).astype(int)
    labels = np.array([*AGE_LABELS, None], dtype=object)
    out[GENERALISED[BIRTH]] = labels[band.to_numpy()]
    code = df[RESIDENCE].str.strip().str.upper()
    code = code.mask(code == "")
    valid = code.str.fullmatch(INSEE_SHAPE.strip("^$"), na=False).astype(bool) & ~code.str.match(
        INSEE_NONE.strip("^"), na=False
    ).astype(bool)
    overseas = code.str[:2].isin(["97", "98"])
    out[GENERALISED[RESIDENCE]] = code.str[:3].where(overseas, code.str[:2]).where(valid)
    flags[("invalid-insee-code", RESIDENCE)] = int((code.notna() & ~valid).sum())
    out[GENERALISED[SAMPLED]] = sampled.dt.strftime("%Y-%m")
    for name in KEPT:
        out[name] = df[name]
    return {"rows_in": int(keep.size), **_write(output, out[list(OUTPUT)], rejected, flags)}


# ---------------------------------------------------------------- Presidio


def presidio(input_path: str, output: str, keyring: str, sample: int) -> dict:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    from presidio_anonymizer import AnonymizerEngine
    from presidio_anonymizer.entities import OperatorConfig, RecognizerResult

    secret = read_secret(keyring)
    salts = {domain: domain_key(secret, domain) for _, domain, _, _ in TOKENISED}
    engine = AnonymizerEngine()
    df = pd.read_csv(
        input_path, sep=";", dtype=str, keep_default_na=False, na_values=[""], nrows=sample
    )
    clock = Clock()  # the per-value work only: extrapolated by run_bench.py

    def anonymise(text, operator: OperatorConfig):
        if not isinstance(text, str) or not text:
            return None
        found = [RecognizerResult(entity_type="VALUE", start=0, end=len(text), score=1.0)]
        return engine.anonymize(text=text, analyzer_results=found, operators={"VALUE": operator})

    hashes = {
        column: OperatorConfig("hash", {"hash_type": "sha256", "salt": salts[domain]})
        for column, domain, _, _ in TOKENISED
    }
    redact = OperatorConfig("redact", {})

    def month(text: str) -> str:
        return f"{datetime.strptime(text.strip(), DATETIME_FORMAT):%Y-%m}"

    def dep(text: str) -> str:
        return departement(text)[0] or ""

    month_op = OperatorConfig("custom", {"lambda": month})
    dep_op = OperatorConfig("custom", {"lambda": dep})
    rows, rejected = [], 0
    for record in df.to_dict("records"):
        birth, bad_birth = _strict(record[BIRTH], _DATE_RE, DATE_FORMAT)
        sampled, bad_sampled = _strict(record[SAMPLED], _DATETIME_RE, DATETIME_FORMAT)
        if bad_birth or bad_sampled:
            rejected += 1
            continue
        out = {}
        for column in DROPPED:
            anonymise(record[column], redact)  # what a Presidio user does to remove a value
        for column, _, _, output_name in TOKENISED:
            result = anonymise(record[column], hashes[column])
            out[output_name] = result.text if result else None
        if birth is not None and sampled is not None:

            def band(_: str, birth=birth, sampled=sampled) -> str:
                age = (
                    sampled.year
                    - birth.year
                    - ((sampled.month, sampled.day) < (birth.month, birth.day))
                )
                return AGE_LABELS[min(max(age, 0), AGE_TOP) // AGE_WIDTH]

            result = anonymise(record[BIRTH], OperatorConfig("custom", {"lambda": band}))
            out[GENERALISED[BIRTH]] = result.text if result else None
        result = anonymise(record[RESIDENCE], dep_op)
        out[GENERALISED[RESIDENCE]] = (result.text or None) if result else None
        result = anonymise(record[SAMPLED], month_op)
        out[GENERALISED[SAMPLED]] = result.text if result else None
        for column in KEPT:
            out[column] = record[column] if isinstance(record[column], str) else None
        rows.append(out)
    work = clock.elapsed()
    os.makedirs(output, exist_ok=True)
    names = [name for name in OUTPUT if name != NIR_FLAG]
    table = pa.Table.from_pylist(rows, schema=pa.schema([(name, pa.string()) for name in names]))
    pq.write_table(table, os.path.join(output, "data.parquet"))
    return {
        "rows_in": len(df),
        "rows_out": table.num_rows,
        "rows_rejected": rejected,
        "sample_work_s": work,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("peer", choices=["pandas-apply", "pandas-vectorised", "presidio"])
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--keyring", required=True)
    parser.add_argument("--sample", type=int, default=20_000, help="presidio: rows to process")
    args = parser.parse_args()
    clock = Clock()
    if args.peer == "pandas-apply":
        stats = pandas_apply(args.input, args.output, args.keyring)
    elif args.peer == "pandas-vectorised":
        stats = pandas_vectorised(args.input, args.output, args.keyring)
    else:
        stats = presidio(args.input, args.output, args.keyring, args.sample)
    report(work_s=clock.elapsed(), **stats)


if __name__ == "__main__":
    main()
