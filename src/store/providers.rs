//! Constructors of [`CloudStore`] for the clouds `object_store` supports,
//! each behind its cargo feature: [`S3Config`] and [`CloudStore::s3`]
//! (`s3`), `CloudStore::gcs` (`gcs`), `CloudStore::azure` (`azure`).

use std::sync::Arc;

use super::{CloudStore, StoreError};

/// Maps a builder failure to [`StoreError::Backend`] (operation `open`).
fn build_err(what: &str, error: object_store::Error) -> StoreError {
    StoreError::Backend { op: "open", key: what.to_owned(), message: error.to_string() }
}

/// Where and how to reach an S3-compatible bucket.
///
/// Credentials left `None` are looked up by `object_store`'s usual chain
/// (web identity, ECS / EC2 instance metadata).
#[cfg(feature = "s3")]
#[derive(Clone, PartialEq, Eq)]
pub struct S3Config {
    /// The bucket name.
    pub bucket: String,
    /// The region (`us-east-1` when unknown).
    pub region: String,
    /// A custom endpoint such as `http://127.0.0.1:9000` (MinIO, moto, R2);
    /// `None` for AWS itself.
    pub endpoint: Option<String>,
    /// The access key ID.
    pub access_key_id: Option<String>,
    /// The secret access key.
    pub secret_access_key: Option<String>,
    /// Allow plain `http://` endpoints.
    pub allow_http: bool,
    /// A key prefix inside the bucket (empty for none); see
    /// [`CloudStore::with_prefix`].
    pub prefix: String,
}

#[cfg(feature = "s3")]
impl S3Config {
    /// A configuration for `bucket` in `us-east-1`, with nothing else set.
    pub fn new(bucket: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            region: "us-east-1".to_owned(),
            endpoint: None,
            access_key_id: None,
            secret_access_key: None,
            allow_http: false,
            prefix: String::new(),
        }
    }

    /// A configuration for `bucket` from the environment: `AWS_ENDPOINT_URL`,
    /// `AWS_REGION` (else `AWS_DEFAULT_REGION`, else `us-east-1`),
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`. Empty variables count
    /// as unset; `allow_http` is set when the endpoint is `http://`.
    pub fn from_env(bucket: impl Into<String>) -> Self {
        let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
        let endpoint = var("AWS_ENDPOINT_URL");
        Self {
            region: var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")).unwrap_or_else(|| "us-east-1".to_owned()),
            allow_http: endpoint.as_deref().is_some_and(|e| e.starts_with("http://")),
            endpoint,
            access_key_id: var("AWS_ACCESS_KEY_ID"),
            secret_access_key: var("AWS_SECRET_ACCESS_KEY"),
            ..Self::new(bucket)
        }
    }
}

// Written by hand so that the secret never reaches a log.
#[cfg(feature = "s3")]
impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &self.secret_access_key.as_ref().map(|_| "<redacted>"))
            .field("allow_http", &self.allow_http)
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl CloudStore {
    /// A store on the S3 bucket described by `config` (path-style
    /// requests; conditional puts with `If-None-Match: *`).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] (operation `open`, key: the bucket) when the
    /// configuration is refused, [`StoreError::InvalidKey`] for a bad prefix.
    #[cfg(feature = "s3")]
    pub fn s3(config: &S3Config) -> Result<CloudStore, StoreError> {
        let mut builder = object_store::aws::AmazonS3Builder::new()
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_allow_http(config.allow_http);
        if let Some(endpoint) = &config.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let Some(id) = &config.access_key_id {
            builder = builder.with_access_key_id(id);
        }
        if let Some(secret) = &config.secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        let s3 = builder.build().map_err(|e| build_err(&config.bucket, e))?;
        CloudStore::new(Arc::new(s3))?.with_prefix(&config.prefix)
    }

    /// A store on the Google Cloud Storage `bucket`, configured from the
    /// `GOOGLE_*` environment variables (`GOOGLE_SERVICE_ACCOUNT`, ...).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] (operation `open`, key: the bucket) when the
    /// configuration is refused.
    #[cfg(feature = "gcs")]
    pub fn gcs(bucket: &str) -> Result<CloudStore, StoreError> {
        let gcs = object_store::gcp::GoogleCloudStorageBuilder::from_env()
            .with_bucket_name(bucket)
            .build()
            .map_err(|e| build_err(bucket, e))?;
        CloudStore::new(Arc::new(gcs))
    }

    /// A store on the Azure Blob Storage `container` of `account`,
    /// configured from the `AZURE_*` environment variables
    /// (`AZURE_STORAGE_ACCESS_KEY`, ...).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] (operation `open`, key: the container) when
    /// the configuration is refused.
    #[cfg(feature = "azure")]
    pub fn azure(account: &str, container: &str) -> Result<CloudStore, StoreError> {
        let azure = object_store::azure::MicrosoftAzureBuilder::from_env()
            .with_account(account)
            .with_container_name(container)
            .build()
            .map_err(|e| build_err(container, e))?;
        CloudStore::new(Arc::new(azure))
    }
}
