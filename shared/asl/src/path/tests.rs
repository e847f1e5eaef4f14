use serde_json::{Value, json};

use super::*;

fn sel(path: &str, doc: Value) -> Option<Value> {
    eval::select(&Path::parse(path).unwrap(), &doc)
        .ok()
        .map(Selection::into_value)
}

#[test]
fn definite_paths_select_one_value() {
    let doc = json!({"a": {"b": [10, 20, 30]}, "x y": 1});
    assert_eq!(sel("$.a.b[1]", doc.clone()), Some(json!(20)));
    assert_eq!(sel("$.a.b[-1]", doc.clone()), Some(json!(30)));
    assert_eq!(sel("$['a']['b'][0]", doc.clone()), Some(json!(10)));
    assert_eq!(sel("$['x y']", doc.clone()), Some(json!(1)));
    assert_eq!(sel("$", doc.clone()), Some(doc.clone()));
    assert_eq!(sel("$.a.b.length()", doc.clone()), Some(json!(3)));
    assert_eq!(sel("$.a.c", doc.clone()), None);
    assert_eq!(sel("$.a.b[3]", doc), None);
}

#[test]
fn indefinite_paths_select_a_list_even_when_empty() {
    let doc = json!({"items": [{"v": 1}, {"v": 2}, {"w": 3}]});
    assert_eq!(sel("$.items[*].v", doc.clone()), Some(json!([1, 2])));
    assert_eq!(sel("$.items[1:].v", doc.clone()), Some(json!([2])));
    assert_eq!(sel("$.items[:1]", doc.clone()), Some(json!([{"v": 1}])));
    assert_eq!(sel("$..v", doc.clone()), Some(json!([1, 2])));
    assert_eq!(
        sel("$.items[0,2]", doc.clone()),
        Some(json!([{"v": 1}, {"w": 3}]))
    );
    assert_eq!(sel("$.nothing[*]", doc.clone()), Some(json!([])));
    assert_eq!(sel("$[*]", json!({})), Some(json!([])));
}

#[test]
fn filters_compare_fields_of_each_item() {
    let doc =
        json!({"users": [{"year": 1997, "status": 0}, {"year": 1998, "status": 1, "name": "b"}]});
    assert_eq!(
        sel("$.users[?(@.status == 0)].year", doc.clone()),
        Some(json!([1997]))
    );
    assert_eq!(
        sel(
            "$.users[?(@.year > 1997 && @.status != 0)].name",
            doc.clone()
        ),
        Some(json!(["b"]))
    );
    assert_eq!(
        sel("$.users[?(@.name)].year", doc.clone()),
        Some(json!([1998]))
    );
    assert_eq!(
        sel("$.users[?(@.name == 'b')].status", doc),
        Some(json!([1]))
    );
}

#[test]
fn reference_paths_are_definite_without_operators() {
    assert!(Path::parse("$.a['b'][0]").unwrap().is_reference());
    for p in ["$.a[*]", "$..a", "$.a[0:1]", "$.a[?(@.x)]", "$.a[0,1]"] {
        assert!(!Path::parse(p).unwrap().is_reference(), "{p}");
    }
}

#[test]
fn a_name_straight_after_a_bracket_is_a_child_as_jayway_reads_it() {
    // A published module's `$.Reservations[0].Instances[0]InstanceId`,
    // which we refused.
    let doc = json!({"r": [{"i": [{"id": "i-1"}]}], "m": {"x": {"id": 2}}});
    assert_eq!(sel("$.r[0].i[0]id", doc.clone()), Some(json!("i-1")));
    assert_eq!(sel("$.m['x']id", doc.clone()), Some(json!(2)));
    assert_eq!(sel("$.r[*]i", doc), Some(json!([[{"id": "i-1"}]])));
    for p in ["$.a[0] b", "$.a[0]]"] {
        assert!(Path::parse(p).is_err(), "{p}");
    }
}

#[test]
fn rejects_malformed_paths() {
    for p in ["", "a.b", "$.", "$[", "$['a'", "$.a[x]", "$.a]"] {
        assert!(Path::parse(p).is_err(), "{p}");
    }
}

#[test]
fn roots_name_the_document() {
    assert_eq!(Path::parse("$$.Execution.Id").unwrap().root, Root::Context);
    assert_eq!(
        Path::parse("$var.x").unwrap().root,
        Root::Variable("var".into())
    );
}

#[test]
fn set_creates_objects_and_refuses_scalars() {
    let mut doc = json!({"a": 1});
    eval::set(&Path::parse("$.b.c").unwrap(), &mut doc, json!(2)).unwrap();
    assert_eq!(doc, json!({"a": 1, "b": {"c": 2}}));
    assert!(eval::set(&Path::parse("$.a.c").unwrap(), &mut doc, json!(3)).is_err());
    eval::set(&Path::parse("$").unwrap(), &mut doc, json!(4)).unwrap();
    assert_eq!(doc, json!(4));
}

#[test]
fn normalizes_like_jayway() {
    assert_eq!(
        Path::parse("$.NoSuch.x[0]").unwrap().normalized(),
        "$['NoSuch']['x'][0]"
    );
}

#[test]
fn a_dot_before_a_bracket_reads_as_the_bracket() {
    let doc = json!([{"body": "b0", "bucket": "x", "key": "k", "OU": 1}, {"OU": 0}]);
    assert_eq!(sel("$.[0].body", doc.clone()), Some(json!("b0")));
    assert_eq!(
        sel(
            "$.Snapshots.[0].State",
            json!({"Snapshots": [{"State": "done"}]})
        ),
        Some(json!("done"))
    );
    assert_eq!(
        sel("$.[*].['bucket', 'key']", doc.clone()),
        Some(json!(["x", "k"]))
    );
    assert_eq!(
        sel("$.[?(@.OU > 0)]", doc),
        Some(json!([{"body": "b0", "bucket": "x", "key": "k", "OU": 1}]))
    );
    assert_eq!(
        Path::parse("$.a.[0]").unwrap().segments,
        Path::parse("$.a[0]").unwrap().segments
    );
    assert!(Path::parse("$.a.['b'].[0]").unwrap().is_reference());
    assert!(Path::parse("$.[").is_err());
}

#[test]
fn bracket_names_are_unescaped_as_jayway_does() {
    let doc = json!({"a\"b": 1, "a\\b": 2, "ab": 3, "Test\\\"\"Name\"": 4, "a'b": 5});
    // Path texts as a definition's JSON strings decode: `$['a\"b']` is the
    // JSON string "$['a\\\"b']".
    assert_eq!(sel("$['a\\\"b']", doc.clone()), Some(json!(1)));
    assert_eq!(sel("$['a\"b']", doc.clone()), Some(json!(1)));
    assert_eq!(sel("$['a\\\\b']", doc.clone()), Some(json!(2)));
    assert_eq!(
        sel("$['Test\\\\\\\"\"Name\"']", doc.clone()),
        Some(json!(4))
    );
    assert_eq!(sel("$['a\\'b']", doc.clone()), Some(json!(5)));
    assert_eq!(sel("$[\"a\\\"b\"]", doc.clone()), Some(json!(1)));
    assert_eq!(
        sel("$['tab\\there\\u00e9']", json!({"tab\there\u{e9}": 6})),
        Some(json!(6))
    );
    assert_eq!(sel("$['é\\é']", json!({"éé": 7})), Some(json!(7)));
    assert!(Path::parse("$['a\\']").is_err());
    assert!(Path::parse("$['a\\u12']").is_err());
}

#[test]
fn only_context_paths_that_can_reach_the_execution_input_read_it() {
    let reads = |p: &str| Path::parse(p).unwrap().reads_execution_input();
    for p in [
        "$$",
        "$$.Execution",
        "$$.Execution.Input",
        "$$.Execution.Input.items[0]",
        "$$.Execution.length()",
        "$$.*",
        "$$..items",
        "$$['Execution']['Input']",
    ] {
        assert!(reads(p), "{p}");
    }
    for p in [
        "$",
        "$.Execution.Input",
        "$$.Map.Item.Value",
        "$$.Execution.Id",
        "$$.Execution.Name",
        "$$.State.EnteredTime",
    ] {
        assert!(!reads(p), "{p}");
    }
}

/// Found by stepwise-fuzz: a union member that starts with a non-ASCII
/// character (a multi-byte letter, or U+2028) was taken for its opening
/// quote, and the name was sliced inside that character.
#[test]
fn a_union_member_starting_with_a_multi_byte_character_is_an_error_not_a_panic() {
    for p in [
        "$['a',\u{2028}'&'\u{2028}'&'\u{2028}'&'?]",
        "$['a',\u{2028}'x',\u{2028}'x'l",
        "$['a\u{e9}',\u{e9}',\u{e9}',\u{e9}','x']",
        "$['a',\u{e9}'x'\u{e9}'g'",
    ] {
        assert!(Path::parse(p).is_err(), "{p}");
    }
    assert!(Path::parse("$['a', 'b']").is_ok());
}

#[test]
fn a_filter_reads_numbers_as_jayway_does() {
    // A published AWS sample filters on `@.Score > .85`: Jayway (Java's
    // BigDecimal) reads `.85`, `5.` and `-.5`; JSON does not.
    let doc = json!({"e": [{"s": 0.9}, {"s": 0.5}, {"s": -0.7}, {"s": 5}]});
    assert_eq!(
        sel("$.e[?(@.s > .85)].s", doc.clone()),
        Some(json!([0.9, 5]))
    );
    assert_eq!(sel("$.e[?(@.s >= 5.)].s", doc.clone()), Some(json!([5])));
    assert_eq!(sel("$.e[?(@.s < -.5)].s", doc.clone()), Some(json!([-0.7])));
    for not_a_number in ["$.e[?(@.s > NaN)]", "$.e[?(@.s > inf)]", "$.e[?(@.s > .)]"] {
        assert!(Path::parse(not_a_number).is_err(), "{not_a_number}");
    }
}

#[test]
fn filters_take_jaywayss_other_operators() {
    let doc = json!({"books": [
        {"t": "Sayings", "tags": ["a", "b"], "price": 8},
        {"t": "Sword", "tags": ["c"], "price": 12},
        {"t": "moby", "tags": [], "price": 9}]});
    let titles = |filter: &str| sel(&format!("$.books[?({filter})].t"), doc.clone());
    assert_eq!(titles("@.t =~ /S.*/"), Some(json!(["Sayings", "Sword"])));
    assert_eq!(titles("@.t =~ /MOBY/i"), Some(json!(["moby"])));
    // The whole text must match, as Java's matches() does.
    assert_eq!(titles("@.t =~ /Say/"), Some(json!([])));
    assert_eq!(
        titles("@.price in [8, 9]"),
        Some(json!(["Sayings", "moby"]))
    );
    assert_eq!(
        titles("@.t nin ['Sword', 'moby']"),
        Some(json!(["Sayings"]))
    );
    assert_eq!(
        titles("@.tags subsetof ['a', 'b', 'x']"),
        Some(json!(["Sayings", "moby"]))
    );
    assert_eq!(titles("@.tags anyof ['c', 'x']"), Some(json!(["Sword"])));
    assert_eq!(
        titles("@.tags noneof ['a']"),
        Some(json!(["Sword", "moby"]))
    );
    assert_eq!(titles("@.tags size 2"), Some(json!(["Sayings"])));
    assert_eq!(titles("@.t size 5"), Some(json!(["Sword"])));
    assert_eq!(titles("@.tags empty true"), Some(json!(["moby"])));
    assert_eq!(titles("@.tags contains 'c'"), Some(json!(["Sword"])));
    assert_eq!(titles("@.t contains 'oby'"), Some(json!(["moby"])));
    for bad in [
        "$.b[?(@.t =~ /x)]",
        "$.b[?(@.t =~ /(/)]",
        "$.b[?(@.t =~ /x/q)]",
        "$.b[?(@.t in [1,)]",
        "$.b[?(@.t =~ /\\)]",
        "$.b[?(@.t =~ /a)|(b/)]",
    ] {
        assert!(Path::parse(bad).is_err(), "{bad}");
    }
    // Whole text, whatever the flags; an `x` comment ends with the pattern.
    let lines = json!({"l": [{"s": "a\nb"}, {"s": "b"}]});
    assert_eq!(
        sel("$.l[?(@.s =~ /b/m)].s", lines.clone()),
        Some(json!(["b"]))
    );
    assert_eq!(
        sel("$.l[?(@.s =~ /b # the letter/x)].s", lines),
        Some(json!(["b"]))
    );
    // Nothing is in no list; a string's size is Java's (UTF-16 units).
    assert_eq!(
        titles("@.missing nin [1]"),
        Some(json!(["Sayings", "Sword", "moby"]))
    );
    let emoji = json!({"l": [{"s": "\u{1F600}"}]});
    assert_eq!(
        sel("$.l[?(@.s size 2)].s", emoji),
        Some(json!(["\u{1F600}"]))
    );
}

#[test]
fn a_deeply_nested_list_in_a_filter_is_refused_not_a_crash() {
    let deep = format!(
        "$.b[?(@.a in {}{})]",
        "[".repeat(200_000),
        "]".repeat(200_000)
    );
    assert!(Path::parse(&deep).is_err());
}
