//! Procedural macros of [`wasp-sdk`]: `#[plugin_fn]` and `plugin!`.
//!
//! Do not depend on this crate directly: use the macros through `wasp_sdk`, whose
//! documentation has the examples and shows what the macros expand to
//! (`wasp_sdk::_generated`). The expanded code names `::wasp_sdk::…` paths, so it only
//! compiles in a crate that depends on `wasp-sdk` under that name.
//!
//! Both macros report mistakes as compile errors at the offending tokens, with a hint
//! on what to write instead; they never panic.
//!
//! [`wasp-sdk`]: https://docs.rs/wasp-sdk
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use proc_macro::TokenStream;

mod plugin;
mod plugin_fn;

/// Implemented in the `wasp-sdk-macros` crate; plugins use it as
/// `wasp_sdk::plugin_fn`, whose documentation describes it.
#[proc_macro_attribute]
pub fn plugin_fn(attr: TokenStream, item: TokenStream) -> TokenStream {
    plugin_fn::expand(attr.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Implemented in the `wasp-sdk-macros` crate; plugins use it as
/// `wasp_sdk::plugin!`, whose documentation describes it.
#[proc_macro]
pub fn plugin(input: TokenStream) -> TokenStream {
    plugin::expand(input.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// The identifier of the hidden constant that `#[plugin_fn]` puts beside function
/// `ident` and that `plugin!` refers to. Its name says which attribute is missing
/// when a listed function lacks it ("cannot find value `__wasp_plugin_fn_x`").
fn function_const(ident: &syn::Ident) -> syn::Ident {
    let name = ident.to_string();
    let name = name.strip_prefix("r#").unwrap_or(&name);
    syn::Ident::new(&format!("__wasp_plugin_fn_{name}"), ident.span())
}
