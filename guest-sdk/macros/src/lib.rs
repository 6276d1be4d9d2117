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

/// `wasp_sdk::_generated` documents what the macros expand to. These tests expand
/// the documented input with the real macros and compare the result, token for
/// token (comments are not tokens), with the documented expansion: the
/// documentation cannot drift from the code.
#[cfg(test)]
mod generated_docs {
    use proc_macro2::TokenStream;
    use quote::{ToTokens, quote};

    /// The Rust code of the `standalone_crate` block in `_generated.rs`.
    fn documented() -> syn::File {
        let text = include_str!("../../src/_generated.rs");
        let mut code = String::new();
        let mut inside = false;
        for line in text.lines() {
            let Some(line) = line.strip_prefix("//!") else {
                continue;
            };
            let line = line.strip_prefix(' ').unwrap_or(line);
            if line.starts_with("```standalone_crate") {
                inside = true;
            } else if inside && line.starts_with("```") {
                break;
            } else if inside && !line.starts_with("# ") {
                code.push_str(line);
                code.push('\n');
            }
        }
        syn::parse_file(&code).expect("the documented expansion parses")
    }

    /// Items without `#[doc = "..."]` attributes (the macros add docs that the
    /// documentation shows as comments instead).
    fn normalise(items: impl IntoIterator<Item = syn::Item>) -> Vec<String> {
        items
            .into_iter()
            .map(|mut item| {
                if let syn::Item::Const(c) = &mut item {
                    c.attrs
                        .retain(|a| !matches!(a.meta, syn::Meta::NameValue(_)));
                }
                // Trailing commas are a matter of formatting, not of tokens that
                // change the meaning.
                item.to_token_stream()
                    .to_string()
                    .replace(" ,)", ")")
                    .replace(" , }", " }")
                    .replace(" , >", " >")
            })
            .collect()
    }

    fn expanded(tokens: TokenStream) -> Vec<String> {
        let file: syn::File = syn::parse2(tokens).expect("the expansion parses");
        normalise(file.items)
    }

    fn named(doc: &syn::File, names: &[&str]) -> Vec<String> {
        let items = doc.items.iter().filter(|item| {
            let ident = match item {
                syn::Item::Fn(f) => f.sig.ident.to_string(),
                syn::Item::Const(c) => c.ident.to_string(),
                _ => return false,
            };
            names.contains(&ident.as_str())
        });
        normalise(items.cloned())
    }

    #[test]
    fn plugin_fn_expansions_match_the_documentation() {
        let doc = documented();
        let upper = crate::plugin_fn::expand(
            quote!(),
            quote!(
                fn upper(input: String) -> String {
                    input.to_uppercase()
                }
            ),
        )
        .unwrap();
        assert_eq!(
            expanded(upper),
            named(&doc, &["upper", "__wasp_plugin_fn_upper"])
        );
        let shout = crate::plugin_fn::expand(
            quote!(),
            quote!(
                fn shout(input: String) -> Result<String, Error> {
                    if input.is_empty() {
                        return Err(Error::new("empty", "nothing to shout"));
                    }
                    Ok(format!("{}!", input.to_uppercase()))
                }
            ),
        )
        .unwrap();
        assert_eq!(
            expanded(shout),
            named(&doc, &["shout", "__wasp_plugin_fn_shout"])
        );
    }

    #[test]
    fn plugin_expansion_matches_the_documentation() {
        let doc = documented();
        let plugin =
            crate::plugin::expand(quote!(shutdown = goodbye, functions = [upper, shout])).unwrap();
        let documented: Vec<String> = normalise(
            doc.items
                .iter()
                .filter(|i| matches!(i, syn::Item::Const(c) if c.ident == "_"))
                .cloned(),
        );
        assert_eq!(expanded(plugin), documented);
    }
}
