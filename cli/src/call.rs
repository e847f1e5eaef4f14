//! `stepwise call <Action>`: one Step Functions API request to a deployed
//! Stepwise (API Gateway with IAM auth) or any endpoint, signed with SigV4
//! for `execute-api` (or `--service states`), with credentials from the
//! environment or a named profile.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{Context as _, bail};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;

#[derive(clap::Args)]
pub struct Args {
    /// The API action, e.g. StartExecution or ListStateMachines.
    action: String,
    /// The request: JSON text or @file.
    #[arg(long, default_value = "{}")]
    body: String,
    /// The API's URL (the stack's ApiUrl output).
    #[arg(long, env = "STEPWISE_ENDPOINT")]
    endpoint: String,
    /// A profile of ~/.aws/credentials (default: the AWS_* environment).
    #[arg(long, env = "AWS_PROFILE")]
    profile: Option<String>,
    #[arg(long, env = "AWS_REGION")]
    region: Option<String>,
    /// The service name to sign for: `execute-api` for API Gateway.
    #[arg(long, default_value = "execute-api")]
    service: String,
}

pub fn main(args: Args) -> anyhow::Result<ExitCode> {
    let body = match args.body.strip_prefix('@') {
        Some(file) => {
            std::fs::read_to_string(file).with_context(|| format!("cannot read {file}"))?
        }
        None => args.body.clone(),
    };
    serde_json::from_str::<serde_json::Value>(&body).context("the body is not JSON")?;
    let credentials = credentials(args.profile.as_deref())?;
    let region = match &args.region {
        Some(r) => r.clone(),
        None => profile_value(
            &config_file("AWS_CONFIG_FILE", "config"),
            args.profile.as_deref(),
            "region",
            true,
        )
        .unwrap_or_else(|| "us-east-1".into()),
    };
    let target = format!("AWSStepFunctions.{}", args.action);
    let headers = [
        ("content-type", stepwise_api::CONTENT_TYPE),
        ("x-amz-target", target.as_str()),
    ];
    let identity = credentials.into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&region)
        .name(&args.service)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()?
        .into();
    let signable = SignableRequest::new(
        "POST",
        &args.endpoint,
        headers.iter().copied(),
        SignableBody::Bytes(body.as_bytes()),
    )?;
    let (instructions, _) = sign(signable, &params)?.into_parts();
    let mut request = ureq::post(&args.endpoint);
    for (k, v) in headers {
        request = request.set(k, v);
    }
    for (k, v) in instructions.headers() {
        request = request.set(k, v);
    }
    let (status, text) = match request.send_string(&body) {
        Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
        Err(e) => bail!("cannot reach {}: {e}", args.endpoint),
    };
    println!("{text}");
    Ok(if status < 300 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn config_file(var: &str, name: &str) -> PathBuf {
    std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
            .join(".aws")
            .join(name)
    })
}

/// `key` in the `[profile]` section of an INI file (`[profile name]` in
/// ~/.aws/config, `[name]` in ~/.aws/credentials).
fn profile_value(file: &PathBuf, profile: Option<&str>, key: &str, config: bool) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    let name = profile.unwrap_or("default");
    let header = if config && name != "default" {
        format!("[profile {name}]")
    } else {
        format!("[{name}]")
    };
    let mut inside = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == header;
        } else if inside
            && let Some((k, v)) = line.split_once('=')
            && k.trim() == key
        {
            return Some(v.trim().to_owned());
        }
    }
    None
}

fn credentials(profile: Option<&str>) -> anyhow::Result<Credentials> {
    if profile.is_none()
        && let (Ok(id), Ok(secret)) = (
            std::env::var("AWS_ACCESS_KEY_ID"),
            std::env::var("AWS_SECRET_ACCESS_KEY"),
        )
    {
        let token = std::env::var("AWS_SESSION_TOKEN").ok();
        return Ok(Credentials::new(id, secret, token, None, "environment"));
    }
    let file = config_file("AWS_SHARED_CREDENTIALS_FILE", "credentials");
    let get = |k| profile_value(&file, profile, k, false);
    match (get("aws_access_key_id"), get("aws_secret_access_key")) {
        (Some(id), Some(secret)) => Ok(Credentials::new(
            id,
            secret,
            get("aws_session_token"),
            None,
            "profile",
        )),
        _ => bail!(
            "no credentials for profile {} in {} (or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
            profile.unwrap_or("default"),
            file.display()
        ),
    }
}
