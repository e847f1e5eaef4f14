"""A Distributed Map's ItemReader on S3 (moto server): JSON with an
ItemsPointer, JSONL, CSV, Parquet (written by pyarrow), a bucket listing,
MaxItems, and reads that fail (States.ItemReaderFailed), through `stepwise
run` and both serve backends."""
import gzip
import json
import os
import subprocess
import uuid

import boto3
import pytest

from conftest import BACKENDS, AWS, BINARY, ROLE, Server, client, run_machine, serve_on, wait_for


def distributed(reader, selector=None, processor="P"):
    """A distributed Map reading with `reader`; its item processor's one
    state is `processor` (state names are unique in the whole machine)."""
    m = {"Type": "Map", "ItemReader": reader,
         "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                           "StartAt": processor, "States": {processor: {"Type": "Pass", "End": True}}},
         "End": True}
    if selector:
        m["ItemSelector"] = selector
    return m


def machine(bucket):
    get = "arn:aws:states:::s3:getObject"
    return {"StartAt": "Json", "States": {
        "Json": {**distributed({"Resource": get, "ReaderConfig": {"InputType": "JSON", "ItemsPointer": "/orders"},
                                "Parameters": {"Bucket": bucket, "Key": "orders.json"}}, processor="Json item"),
                 "ResultPath": "$.json", "End": False, "Next": "Lines"},
        "Lines": {**distributed({"Resource": get, "ReaderConfig": {"InputType": "JSONL", "MaxItemsPath": "$.max"},
                                 "Parameters": {"Bucket": bucket, "Key": "lines.jsonl"}}, processor="Lines item"),
                  "ResultPath": "$.lines", "End": False, "Next": "Csv"},
        "Csv": {**distributed({"Resource": get, "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
                               "Parameters": {"Bucket": bucket, "Key": "people.csv"}},
                              {"who.$": "$$.Map.Item.Value.name", "index.$": "$$.Map.Item.Index"}, processor="Csv item"),
                "ResultPath": "$.csv", "End": False, "Next": "Listing"},
        "Listing": {**distributed({"Resource": "arn:aws:states:::s3:listObjectsV2",
                                   "Parameters": {"Bucket": bucket, "Prefix": "in/"}}, processor="Listing item"),
                    "ResultPath": "$.listed", "End": False, "Next": "Inventory"},
        "Inventory": {**distributed({"Resource": get, "ReaderConfig": {"InputType": "MANIFEST"},
                                     "Parameters": {"Bucket": bucket, "Key": "inv/manifest.json"}}, processor="Inventory item"),
                      "ResultPath": "$.inventory", "End": False, "Next": "Athena"},
        "Athena": {**distributed({"Resource": get, "ReaderConfig": {
                                      "ManifestType": "ATHENA_DATA", "InputType": "CSV",
                                      "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["id", "name"]},
                                  "Parameters": {"Bucket": bucket, "Key": "athena/q1-manifest.csv"}}, processor="Athena item"),
                   "ResultPath": "$.athena", "End": False, "Next": "Missing"},
        "Missing": {**distributed({"Resource": get, "ReaderConfig": {"InputType": "JSON"},
                                   "Parameters": {"Bucket": bucket, "Key": "none.json"}}, processor="Missing item"),
                    "Catch": [{"ErrorEquals": ["States.ItemReaderFailed"], "ResultPath": "$.missing", "Next": "Done"}],
                    "End": True},
        "Done": {"Type": "Succeed"}}}


def check(o):
    assert o["json"] == [{"id": 1}, {"id": 2}]
    assert o["lines"] == [{"n": 1}, {"n": 2}]
    assert o["csv"] == [{"who": "Ann", "index": 0}, {"who": "Bo, Jr", "index": 1}]
    assert sorted(i["Key"] for i in o["listed"]) == ["in/a.txt", "in/b.txt"]
    item = next(i for i in o["listed"] if i["Key"] == "in/a.txt")
    assert item["Size"] == 3 and item["Etag"].startswith('"') and isinstance(item["LastModified"], int)
    # An S3 Inventory report: its gzip CSV files' rows, named by fileSchema, all text.
    assert o["inventory"] == [
        {"Bucket": "src", "Key": "a.txt", "Size": "3", "LastModifiedDate": "2026-01-02T03:04:05.000Z"},
        {"Bucket": "src", "Key": "b/c.txt", "Size": "10", "LastModifiedDate": "2026-01-02T03:04:06.000Z"},
        {"Bucket": "src", "Key": "d.txt", "Size": "0", "LastModifiedDate": "2026-01-02T03:04:07.000Z"}]
    # An Athena data manifest: the rows of the files it lists, in order.
    assert o["athena"] == [{"id": "1", "name": "x"}, {"id": "2", "name": "y"}, {"id": "3", "name": "z"}]
    assert o["missing"]["Error"] == "States.ItemReaderFailed"
    assert "NoSuchKey" in o["missing"]["Cause"]


@pytest.fixture
def bucket(moto):
    s3 = boto3.client("s3", endpoint_url=moto, region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    name = "items-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="orders.json", Body=json.dumps({"orders": [{"id": 1}, {"id": 2}]}))
    s3.put_object(Bucket=name, Key="lines.jsonl", Body='{"n": 1}\n{"n": 2}\n{"n": 3}\n')
    s3.put_object(Bucket=name, Key="people.csv", Body='name,age\nAnn,30\n"Bo, Jr",4\n')
    s3.put_object(Bucket=name, Key="in/a.txt", Body="abc")
    s3.put_object(Bucket=name, Key="in/b.txt", Body="de")
    # An S3 Inventory report: manifest.json and two gzip CSV files without headers.
    s3.put_object(Bucket=name, Key="inv/manifest.json", Body=json.dumps({
        "sourceBucket": "src", "destinationBucket": f"arn:aws:s3:::{name}", "version": "2016-11-30",
        "fileFormat": "CSV", "fileSchema": "Bucket, Key, Size, LastModifiedDate",
        "files": [{"key": "inv/data/1.csv.gz", "size": 1, "MD5checksum": "x"},
                  {"key": "inv/data/2.csv.gz", "size": 1, "MD5checksum": "y"}]}))
    s3.put_object(Bucket=name, Key="inv/data/1.csv.gz", Body=gzip.compress(
        b'"src","a.txt","3","2026-01-02T03:04:05.000Z"\n"src","b/c.txt","10","2026-01-02T03:04:06.000Z"\n'))
    s3.put_object(Bucket=name, Key="inv/data/2.csv.gz", Body=gzip.compress(
        b'"src","d.txt","0","2026-01-02T03:04:07.000Z"\n'))
    # An Athena data manifest (what UNLOAD writes) listing two CSV files.
    s3.put_object(Bucket=name, Key="athena/q1-manifest.csv",
                  Body=f"s3://{name}/athena/part-0.csv\ns3://{name}/athena/part-1.csv\n")
    s3.put_object(Bucket=name, Key="athena/part-0.csv", Body="1,x\n2,y\n")
    s3.put_object(Bucket=name, Key="athena/part-1.csv", Body="3,z\n")
    return name


def test_item_reader_in_stepwise_run(moto, bucket, tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(machine(bucket)))
    result = run_machine(path, "--input", '{"max": 2}', env=dict(AWS, AWS_ENDPOINT_URL=moto))
    assert result["status"] == "SUCCEEDED", result
    check(result["output"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_item_reader_on_both_backends(moto, bucket, backend):
    s = serve_on(backend, moto, "item-reader", services=True)
    try:
        sfn = client(s.url)
        arn = sfn.create_state_machine(name=bucket, roleArn=ROLE, definition=json.dumps(machine(bucket)))["stateMachineArn"]
        ex = sfn.start_execution(stateMachineArn=arn, input='{"max": 2}')["executionArn"]
        d = wait_for(sfn, ex, timeout=60)
        assert d["status"] == "SUCCEEDED", d
        check(json.loads(d["output"]))
        # AWS counts no items an ItemReader reads when the Map starts
        # (recorded on AWS: LocalStack's ItemReader tests); we counted them.
        events = sfn.get_execution_history(executionArn=ex, maxResults=1000)["events"]
        lengths = [e["mapStateStartedEventDetails"]["length"] for e in events if e["type"] == "MapStateStarted"]
        assert lengths and set(lengths) == {0}, lengths
    finally:
        s.stop()


# The rows AWS read from one CSV object (recorded on AWS: LocalStack's
# ItemReader tests), with its headers given or in the first row.
RAGGED = "Value1,Value2,Value3\nValue4,Value5,Value6\n,,,\ntrue,1,'HelloWorld'\nNull,None,\n   \n"


def test_csv_rows_are_read_as_aws_reads_them(moto, tmp_path):
    """A row shorter than the headers has "" for the rest, fields past
    them are left out, a line of spaces is a row; duplicate headers and a
    negative MaxItems fail the reader, a MaxItemsPath that is not a whole
    number the state. We failed every row whose length differed."""
    s3 = boto3.client("s3", endpoint_url=moto, region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    name = "csv-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="ragged.csv", Body=RAGGED)
    s3.put_object(Bucket=name, Key="first.csv", Body="H1,\n" + RAGGED.split("\n", 1)[1])

    def read(state, config, then, key="ragged.csv"):
        reader = {"Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Bucket": name, "Key": key},
                  "ReaderConfig": {"InputType": "CSV", **config}}
        return {**distributed(reader, processor=state + " item"), "ResultPath": "$." + state, "End": False,
                "Next": then, "Catch": [{"ErrorEquals": ["States.ItemReaderFailed"], "ResultPath": "$." + state,
                                         "Next": then}]}
    definition = {"StartAt": "given", "States": {
        "given": read("given", {"CSVHeaderLocation": "GIVEN", "CSVHeaders": ["H1", "H2", "H3"]}, "one"),
        "one": read("one", {"CSVHeaderLocation": "GIVEN", "CSVHeaders": ["H1"]}, "first"),
        "first": read("first", {"CSVHeaderLocation": "FIRST_ROW"}, "twice", key="first.csv"),
        "twice": read("twice", {"CSVHeaderLocation": "GIVEN", "CSVHeaders": ["H1", "H1", "H3"]}, "negative"),
        "negative": read("negative", {"CSVHeaderLocation": "GIVEN", "CSVHeaders": ["H1"], "MaxItemsPath": "$.minus"},
                         "fraction"),
        "fraction": read("fraction", {"CSVHeaderLocation": "GIVEN", "CSVHeaders": ["H1"], "MaxItemsPath": "$.half"},
                         "two"),
        # A whole count written as a float, or as text, counts as any other.
        "two": read("two", {"CSVHeaderLocation": "GIVEN", "CSVHeaders": ["H1"], "MaxItemsPath": "$.two"}, "text"),
        "text": read("text", {"CSVHeaderLocation": "GIVEN", "CSVHeaders": ["H1"], "MaxItemsPath": "$.three"},
                     "Done"),
        "Done": {"Type": "Succeed"}}}
    path = tmp_path / "csv.json"
    path.write_text(json.dumps(definition))
    out = subprocess.run([BINARY, "run", str(path), "--history", "--input", '{"minus": -1, "half": 1.5}'],
                         capture_output=True, text=True, timeout=60, env=dict(os.environ, **AWS, AWS_ENDPOINT_URL=moto))
    *events, result = [json.loads(line) for line in out.stdout.strip().splitlines()]
    assert (result["status"], result["error"]) == ("FAILED", "States.Runtime"), result
    # As AWS records them: a read that fails does so inside a Map Run that
    # starts and fails with its error; a MaxItemsPath that is not a whole
    # number fails after MapStateStarted, before any Map Run.
    kinds = [e["type"] for e in events]
    dup = kinds.index("MapStateEntered", [i for i, e in enumerate(events) if e.get(
        "stateEnteredEventDetails", {}).get("name") == "twice"][0])
    assert kinds[dup:dup + 5] == ["MapStateEntered", "MapStateStarted", "MapRunStarted", "MapRunFailed",
                                  "MapStateFailed"]
    assert events[dup + 1]["mapStateStartedEventDetails"] == {"length": 0}
    assert events[dup + 3]["mapRunFailedEventDetails"] == {
        "error": "States.ItemReaderFailed", "cause": "CSV headers cannot contain duplicates."}
    assert kinds[-3:] == ["MapStateEntered", "MapStateStarted", "ExecutionFailed"]
    assert result["cause"] == ("An error occurred while executing the state 'fraction' (entered at the event id #"
                               f"{result['cause'].split('#')[1].split(')')[0]}). The MaxItemsPath field refers to "
                               'value "1.5" which is not a valid integer: $.half')
    # What came before the failure, from the same run with a whole number.
    definition["States"]["fraction"] = {"Type": "Pass", "Next": "two"}
    path.write_text(json.dumps(definition))
    o = run_machine(path, "--input", '{"minus": -1, "two": 2.0, "three": "3"}',
                    env=dict(AWS, AWS_ENDPOINT_URL=moto))["output"]
    assert (o["two"], o["text"]) == ([{"H1": "Value1"}, {"H1": "Value4"}],
                                     [{"H1": "Value1"}, {"H1": "Value4"}, {"H1": ""}])
    h = [("Value1", "Value2", "Value3"), ("Value4", "Value5", "Value6"), ("", "", ""),
         ("true", "1", "'HelloWorld'"), ("Null", "None", ""), ("   ", "", "")]
    assert o["given"] == [{"H1": a, "H2": b, "H3": c} for a, b, c in h]
    assert o["one"] == [{"H1": a} for a, _, _ in h]
    assert o["first"] == [{"H1": a, "": b} for a, b, _ in h[1:]]
    assert o["twice"] == {"Error": "States.ItemReaderFailed", "Cause": "CSV headers cannot contain duplicates."}
    assert o["negative"] == {"Error": "States.ItemReaderFailed", "Cause": "field MaxItems must be positive"}


def test_an_item_reader_with_another_resource_is_an_invalid_definition(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"StartAt": "M", "States": {"M": distributed(
        {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "b", "Key": "k"}})}}))
    out = subprocess.run([BINARY, "validate", str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "ItemReader reads with" in (out.stdout + out.stderr)


def writer_machine(bucket):
    """Items read from S3, one failing (tolerated), results written to S3;
    then the same items shaped by a WriterConfig alone (FLATTEN)."""
    return {"StartAt": "Write", "States": {
        "Write": {"Type": "Map", "ToleratedFailureCount": 1,
                  "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
                                 "Parameters": {"Bucket": bucket, "Key": "numbers.json"}},
                  "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                                    "StartAt": "Check", "States": {
                                        "Check": {"Type": "Choice", "Choices": [
                                            {"Variable": "$.n", "NumericEquals": 2, "Next": "Bad"}], "Default": "Ok"},
                                        "Bad": {"Type": "Fail", "Error": "Two", "Cause": "no twos"},
                                        "Ok": {"Type": "Pass", "Parameters": {"double.$": "States.MathAdd($.n, $.n)"},
                                               "End": True}}},
                  "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
                                   "Parameters": {"Bucket": bucket, "Prefix": "out"}},
                  "ResultPath": "$.written", "Next": "Flat"},
        "Flat": {"Type": "Map", "Label": "flat",
                 "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
                                "Parameters": {"Bucket": bucket, "Key": "numbers.json"}},
                 "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                                   "StartAt": "Pair", "States": {"Pair": {
                                       "Type": "Pass", "Parameters": {"pair.$": "States.Array($.n, $.n)"},
                                       "OutputPath": "$.pair", "End": True}}},
                 "ResultWriter": {"WriterConfig": {"Transformation": "FLATTEN"}},
                 "ResultPath": "$.flat", "End": True}}}


def test_result_writer_lays_results_out_in_s3(moto, bucket, tmp_path):
    s3 = boto3.client("s3", endpoint_url=moto, region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    s3.put_object(Bucket=bucket, Key="numbers.json", Body=json.dumps([{"n": 1}, {"n": 2}, {"n": 3}]))
    path = tmp_path / "m.json"
    path.write_text(json.dumps(writer_machine(bucket)))
    result = run_machine(path, env=dict(AWS, AWS_ENDPOINT_URL=moto))
    assert result["status"] == "SUCCEEDED", result
    written = result["output"]["written"]
    assert ":mapRun:" in written["MapRunArn"]
    details = written["ResultWriterDetails"]
    run_id = written["MapRunArn"].rsplit(":", 1)[1]
    assert details == {"Bucket": bucket, "Key": f"out/{run_id}/manifest.json"}
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=details["Key"])["Body"].read())
    assert manifest["DestinationBucket"] == bucket and manifest["MapRunArn"] == written["MapRunArn"]
    assert [f["Key"] for f in manifest["ResultFiles"]["SUCCEEDED"]] == [f"out/{run_id}/SUCCEEDED_0.json"]
    assert manifest["ResultFiles"]["PENDING"] == []
    succeeded = json.loads(s3.get_object(Bucket=bucket, Key=f"out/{run_id}/SUCCEEDED_0.json")["Body"].read())
    assert [json.loads(e["Output"]) for e in succeeded] == [{"double": 2}, {"double": 6}]
    assert all(e["Status"] == "SUCCEEDED" and ":execution:" in e["ExecutionArn"] for e in succeeded)
    failed = json.loads(s3.get_object(Bucket=bucket, Key=f"out/{run_id}/FAILED_0.json")["Body"].read())
    assert [(e["Error"], e["Cause"]) for e in failed] == [("Two", "no twos")]
    assert result["output"]["flat"] == [1, 1, 2, 2, 3, 3]


def parquet_table():
    """Every type the reader maps, an optional column with nulls, and
    strings both dictionary-encoded (`name`) and not (`note`, in the gzip
    file, written without dictionaries)."""
    import datetime as dt
    from decimal import Decimal
    pa = pytest.importorskip("pyarrow")
    at = [dt.datetime(2024, 1, 2, 3, 4, 5, 123000), dt.datetime(1970, 1, 1), None,
          dt.datetime(1969, 12, 31, 23, 59, 59, 999000), dt.datetime(2030, 6, 1, 12)]
    return pa.table({
        "id": pa.array([1, 2, 3, 4, 5], pa.int32()),
        "big": pa.array([10**12, -1, 0, 2**62, 7], pa.int64()),
        "name": pa.array(["ann", "bo", "ann", "cy", "bo"]),
        "note": pa.array(["x", None, None, "zed", None]),
        "score": pa.array([1.5, -2.25, 0.0, 1e10, 3.0], pa.float64()),
        "ok": pa.array([True, False, None, True, False]),
        "day": pa.array([dt.date(2024, 1, 2), dt.date(1969, 12, 31), None, dt.date(2000, 2, 29),
                         dt.date(1970, 1, 1)], pa.date32()),
        "at": pa.array(at, pa.timestamp("ms")),
        "price": pa.array([Decimal("12.34"), Decimal("-0.05"), None, Decimal("99999999.99"), Decimal("0")],
                          pa.decimal128(10, 2)),
    })


def as_item(row):
    """A row as pyarrow's to_pylist() gives it, mapped as Stepwise maps
    Parquet values: dates ISO, timestamps RFC 3339 UTC to the millisecond,
    decimals numbers."""
    import datetime as dt
    from decimal import Decimal

    def value(v):
        if isinstance(v, dt.datetime):
            return v.strftime("%Y-%m-%dT%H:%M:%S.") + f"{v.microsecond // 1000:03d}Z"
        if isinstance(v, dt.date):
            return v.isoformat()
        return float(v) if isinstance(v, Decimal) else v
    return {k: value(v) for k, v in row.items()}


@pytest.fixture
def parquet_bucket(moto):
    """pq/: the table as snappy in two row groups, gzip without
    dictionaries, uncompressed with v2 data pages; bad/: ZSTD, truncated."""
    pq = pytest.importorskip("pyarrow.parquet")
    import io
    s3 = boto3.client("s3", endpoint_url=moto, region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    name = "parquet-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=name)
    table = parquet_table()
    files = {"pq/snappy.parquet": {"row_group_size": 3},
             "pq/gzip.parquet": {"compression": "gzip", "use_dictionary": False},
             "pq/v2.parquet": {"compression": "none", "data_page_version": "2.0"},
             "bad/zstd.parquet": {"compression": "zstd"}}
    for key, options in files.items():
        out = io.BytesIO()
        pq.write_table(table, out, **options)
        s3.put_object(Bucket=name, Key=key, Body=out.getvalue())
        if key == "pq/snappy.parquet":
            assert pq.ParquetFile(io.BytesIO(out.getvalue())).num_row_groups == 2
            s3.put_object(Bucket=name, Key="bad/truncated.parquet", Body=out.getvalue()[:-100])
    # An Athena data manifest (what UNLOAD ... WITH (format = 'PARQUET') writes).
    manifest = f"s3://{name}/pq/v2.parquet\ns3://{name}/pq/gzip.parquet\n"
    s3.put_object(Bucket=name, Key="athena/manifest.csv", Body=manifest)
    return name


def parquet_machine(bucket):
    """A Distributed Map per Parquet read, each result at $.<name>; the
    last two fail, caught."""
    def read(key, **config):
        return {"Resource": "arn:aws:states:::s3:getObject",
                "ReaderConfig": {"InputType": "PARQUET", **config},
                "Parameters": {"Bucket": bucket, "Key": key}}
    names = ["Snappy", "Gzip", "V2", "Max", "Flatten", "Athena", "Zstd", "Truncated"]
    readers = [read("pq/snappy.parquet"), read("pq/gzip.parquet"), read("pq/v2.parquet"),
               read("pq/snappy.parquet", MaxItems=4),
               {"Resource": "arn:aws:states:::s3:listObjectsV2",
                "ReaderConfig": {"InputType": "PARQUET", "Transformation": "LOAD_AND_FLATTEN", "MaxItems": 7},
                "Parameters": {"Bucket": bucket, "Prefix": "pq/"}},
               read("athena/manifest.csv", ManifestType="ATHENA_DATA", MaxItems=8),
               read("bad/zstd.parquet"), read("bad/truncated.parquet")]
    states = {}
    for i, (name, reader) in enumerate(zip(names, readers)):
        after = names[i + 1] if i + 1 < len(names) else "Done"
        state = {**distributed(reader, processor=name + " item"), "ResultPath": "$." + name.lower(), "Next": after}
        del state["End"]
        if name in ("Zstd", "Truncated"):
            state["Catch"] = [{"ErrorEquals": ["States.ItemReaderFailed"], "ResultPath": state["ResultPath"],
                               "Next": after}]
        states[name] = state
    states["Done"] = {"Type": "Succeed"}
    return {"StartAt": names[0], "States": states}


@pytest.mark.parametrize("backend", BACKENDS)
def test_parquet_rows_are_items_on_both_backends(moto, parquet_bucket, backend):
    bucket = parquet_bucket
    s = serve_on(backend, moto, "parquet", services=True)
    try:
        sfn = client(s.url)
        arn = sfn.create_state_machine(name=bucket, roleArn=ROLE,
                                       definition=json.dumps(parquet_machine(bucket)))["stateMachineArn"]
        d = wait_for(sfn, sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"], timeout=90)
        assert d["status"] == "SUCCEEDED", d
        o = json.loads(d["output"])
    finally:
        s.stop()
    rows = [as_item(r) for r in parquet_table().to_pylist()]
    assert rows[2]["note"] is None and rows[0]["at"] == "2024-01-02T03:04:05.123Z"
    assert o["snappy"] == rows and o["gzip"] == rows and o["v2"] == rows
    assert o["max"] == rows[:4]  # MaxItems across the two row groups
    assert o["flatten"] == rows + rows[:2]  # gzip, then snappy, in key order
    assert o["athena"] == (rows + rows)[:8]  # the manifest's files in order
    assert o["zstd"]["Error"] == "States.ItemReaderFailed" and "ZSTD" in o["zstd"]["Cause"]
    assert o["truncated"]["Error"] == "States.ItemReaderFailed"
    assert "not a valid Parquet file" in o["truncated"]["Cause"]
