use serde_json::json;

use super::*;

fn s3() -> Arc<RestService> {
    service("s3").expect("the S3 model")
}

#[test]
fn s3_requests_bind_labels_headers_and_the_payload() {
    let s3 = s3();
    let (name, op) = s3.operation("getObject").expect("GetObject");
    assert_eq!(name, "GetObject");
    let r = s3
        .request(
            name,
            op,
            &json!({"Bucket": "b", "Key": "a dir/x+y.json", "Range": "bytes=0-9"}),
        )
        .expect("a request");
    assert_eq!(r.method, "GET");
    assert_eq!(r.path, "/b/a%20dir/x%2By.json");
    assert_eq!(r.headers, [("Range".to_owned(), "bytes=0-9".to_owned())]);
    let (name, op) = s3.operation("putObject").expect("PutObject");
    let r = s3
        .request(
            name,
            op,
            &json!({"Bucket": "b", "Key": "k", "Body": "hello", "ContentType": "text/plain"}),
        )
        .expect("a request");
    assert_eq!(
        (r.method.as_str(), r.body.as_slice()),
        ("PUT", b"\"hello\"".as_slice())
    );
    let (name, op) = s3.operation("listObjectsV2").expect("ListObjectsV2");
    let r = s3
        .request(
            name,
            op,
            &json!({"Bucket": "b", "Prefix": "in/", "MaxKeys": 5}),
        )
        .expect("a request");
    assert_eq!(r.path, "/b?list-type=2&prefix=in%2F&max-keys=5");
    let err = s3
        .request(name, op, &json!({"Bucket": "b", "Nope": 1}))
        .unwrap_err();
    assert!(err.cause.unwrap_or_default().contains("'Nope'"));
}

#[test]
fn s3_answers_read_back_with_member_names() {
    let s3 = s3();
    let (_, op) = s3.operation("ListObjectsV2").expect("ListObjectsV2");
    let body = r#"<ListBucketResult><Name>b</Name><Prefix></Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>
<Contents><Key>a</Key><Size>3</Size><ETag>"e"</ETag></Contents><Contents><Key>b</Key><Size>4</Size></Contents></ListBucketResult>"#;
    let out = s3.result(op, 200, &[], body);
    assert_eq!(out["Name"], "b");
    assert_eq!(out["KeyCount"], 2);
    assert_eq!(out["IsTruncated"], false);
    assert_eq!(out["Contents"][1], json!({"Key": "b", "Size": 4}));
    let (_, op) = s3.operation("GetObject").expect("GetObject");
    let headers = [
        ("content-type".to_owned(), "application/json".to_owned()),
        ("content-length".to_owned(), "7".to_owned()),
        ("x-amz-meta-owner".to_owned(), "me".to_owned()),
    ];
    let out = s3.result(op, 200, &headers, "{\"a\":1}");
    assert_eq!(out["Body"], "{\"a\":1}");
    assert_eq!(out["ContentType"], "application/json");
    assert_eq!(out["ContentLength"], 7);
    assert_eq!(out["Metadata"], json!({"owner": "me"}));
    let (code, message) = error_code(
        "rest-xml",
        404,
        None,
        "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>",
    );
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("NoSuchKey", "The specified key does not exist.")
    );
    assert_eq!(error_code("rest-xml", 404, None, "").0, "NotFound");
}

#[test]
fn query_and_ec2_requests_are_forms_as_the_sdks_send_them() {
    let sns = service("sns").expect("the SNS model");
    let (name, op) = sns.operation("publish").expect("Publish");
    let r = sns
        .request(
            name,
            op,
            &json!({"TopicArn": "arn:t", "Message": "hi there",
                    "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}}),
        )
        .expect("a request");
    let body = String::from_utf8(r.body).expect("text");
    assert!(
        body.starts_with("Action=Publish&Version=2010-03-31"),
        "{body}"
    );
    assert!(body.contains("Message=hi%20there"), "{body}");
    assert!(body.contains("MessageAttributes.entry.1.Name=k"), "{body}");
    assert!(
        body.contains("MessageAttributes.entry.1.Value.DataType=String"),
        "{body}"
    );
    let answer = "<PublishResponse><PublishResult><MessageId>m-1</MessageId></PublishResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PublishResponse>";
    assert_eq!(
        sns.result(op, 200, &[], answer),
        json!({"MessageId": "m-1"})
    );
    let ec2 = service("ec2").expect("the EC2 model");
    let (name, op) = ec2
        .operation("describeInstances")
        .expect("DescribeInstances");
    let r = ec2
        .request(
            name,
            op,
            &json!({"Filters": [{"Name": "tag:env", "Values": ["dev", "test"]}], "InstanceIds": ["i-1"]}),
        )
        .expect("a request");
    let body = String::from_utf8(r.body).expect("text");
    assert!(body.contains("Filter.1.Name=tag%3Aenv"), "{body}");
    assert!(body.contains("Filter.1.Value.2=test"), "{body}");
    assert!(body.contains("InstanceId.1=i-1"), "{body}");
}

#[test]
fn rest_json_requests_put_members_in_the_path_and_body() {
    let lambda = service("lambda").expect("the Lambda model");
    let (name, op) = lambda.operation("getFunction").expect("GetFunction");
    let r = lambda
        .request(name, op, &json!({"FunctionName": "f", "Qualifier": "1"}))
        .expect("a request");
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("GET", "/2015-03-31/functions/f?Qualifier=1")
    );
    let (_, op) = lambda.operation("GetFunction").expect("GetFunction");
    let out = lambda.result(
        op,
        200,
        &[],
        r#"{"Configuration": {"FunctionName": "f", "MemorySize": 128}}"#,
    );
    assert_eq!(out["Configuration"]["MemorySize"], 128);
    assert!(service("no-such-service").is_none());
}
