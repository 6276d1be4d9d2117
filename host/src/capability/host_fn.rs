//! Host functions: named async functions over bytes that the application
//! registers on the runtime and the operator grants to plugins by name.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use wasp_codec::{FromBytes, IntoBytes};

/// What a host function knows about its caller.
///
/// ```
/// # use wasp_host::HostFnContext;
/// fn who(ctx: &HostFnContext) -> &str { ctx.plugin() }
/// ```
#[derive(Debug, Clone)]
pub struct HostFnContext {
    pub(crate) plugin: Arc<str>,
}

impl HostFnContext {
    /// The name of the calling plugin.
    ///
    /// ```
    /// # fn f(ctx: wasp_host::HostFnContext) { let _name: &str = ctx.plugin(); }
    /// ```
    pub fn plugin(&self) -> &str {
        &self.plugin
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<Vec<u8>, String>> + Send>>;

/// A registered host function (see `RuntimeBuilder::host_fn`).
///
/// ```
/// let f = wasp_host::HostFn::new(|_ctx, input: Vec<u8>| async move { Ok(input) });
/// # let _ = f;
/// ```
#[derive(Clone)]
pub struct HostFn(Arc<dyn Fn(HostFnContext, Vec<u8>) -> BoxFuture + Send + Sync>);

impl HostFn {
    /// Wraps an async closure. An `Err(String)` reaches the plugin as the error of
    /// `call-host`.
    ///
    /// ```
    /// let f = wasp_host::HostFn::new(|ctx, input: Vec<u8>| async move {
    ///     Ok(format!("{} sent {} bytes", ctx.plugin(), input.len()).into_bytes())
    /// });
    /// # let _ = f;
    /// ```
    pub fn new<F, Fut>(f: F) -> Self
    where
        F: Fn(HostFnContext, Vec<u8>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<u8>, String>> + Send + 'static,
    {
        HostFn(Arc::new(move |ctx, input| Box::pin(f(ctx, input))))
    }

    /// Wraps an async closure over typed values: the plugin's bytes are decoded
    /// into `I` and the result encoded from `O` with [`wasp_codec`] (`String` and
    /// bytes as they are, [`crate::Json`] and [`crate::Bincode`] for serde types).
    /// Input that does not decode reaches the plugin as an error naming the type.
    ///
    /// ```
    /// use wasp_host::{HostFn, Json};
    /// let f = HostFn::typed(|_ctx, Json(n): Json<u32>| async move {
    ///     Ok::<_, String>(Json(n + 1))
    /// });
    /// # let _ = f;
    /// ```
    pub fn typed<I, O, F, Fut>(f: F) -> Self
    where
        I: FromBytes + Send + 'static,
        O: IntoBytes + Send + 'static,
        F: Fn(HostFnContext, I) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, String>> + Send + 'static,
    {
        let f = Arc::new(f);
        HostFn::new(move |ctx, input| {
            let f = f.clone();
            async move {
                let input = I::from_bytes(input).map_err(|e| {
                    format!(
                        "host function input: expected {}: {e}",
                        std::any::type_name::<I>()
                    )
                })?;
                f(ctx, input)
                    .await?
                    .into_bytes()
                    .map_err(|e| format!("host function output: {e}"))
            }
        })
    }

    pub(crate) async fn call(&self, ctx: HostFnContext, input: Vec<u8>) -> Result<Vec<u8>, String> {
        (self.0)(ctx, input).await
    }
}

impl std::fmt::Debug for HostFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HostFn")
    }
}

/// The host functions registered on a runtime.
#[derive(Debug, Clone, Default)]
pub(crate) struct HostFns(pub(crate) Arc<BTreeMap<String, HostFn>>);

impl HostFns {
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
    pub(crate) fn get(&self, name: &str) -> Option<&HostFn> {
        self.0.get(name)
    }
    pub(crate) fn names(&self) -> Vec<String> {
        self.0.keys().cloned().collect()
    }
}
