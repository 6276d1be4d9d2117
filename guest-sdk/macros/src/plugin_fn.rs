//! `#[plugin_fn]`: keeps the function and adds a hidden `Function` constant beside it.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, LitStr, ReturnType, Type};

/// What `#[plugin_fn(...)]` accepts inside its parentheses.
const VALID_OPTIONS: &str = "`name = \"...\"`";

/// Expands `#[plugin_fn(attr)] item`.
pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let name = parse_options(attr)?;
    let function: ItemFn = syn::parse2(item).map_err(|e| {
        syn::Error::new(
            e.span(),
            "`#[plugin_fn]` goes on a free function, e.g. `fn upper(input: String) -> String`",
        )
    })?;
    check_signature(&function)?;

    let ident = &function.sig.ident;
    let vis = &function.vis;
    let name = match name {
        Some(name) => name,
        None => {
            let text = ident.to_string();
            LitStr::new(text.strip_prefix("r#").unwrap_or(&text), ident.span())
        }
    };
    let konst = crate::function_const(ident);

    // The call to the user's function, fed by `decode` when it takes an argument.
    let call = match function.sig.inputs.first() {
        Some(FnArg::Typed(arg)) => {
            let ty = &arg.ty;
            let decode = quote_spanned! {ty.span()=>
                ::wasp_sdk::__private::decode::<#ty>(#name, input)?
            };
            quote! { #ident(#decode) }
        }
        // A receiver was rejected by `check_signature`; no argument: input ignored.
        _ => quote! { { let _ = input; #ident() } },
    };

    // The return type decides, through `PluginResult`, whether the function is
    // fallible: by its type, not by its name.
    let body = match &function.sig.output {
        ReturnType::Type(_, ty) => quote_spanned! {ty.span()=>
            ::wasp_sdk::__private::PluginResult::into_output(#call, #name)
        },
        ReturnType::Default => quote! {
            ::wasp_sdk::__private::PluginResult::into_output(#call, #name)
        },
    };

    let doc = format!(
        "The plugin function `{}`: its name and byte-level wrapper, listed by `plugin!`.",
        name.value()
    );
    Ok(quote! {
        #function

        #[doc = #doc]
        #[doc(hidden)]
        #[allow(non_upper_case_globals)]
        #vis const #konst: ::wasp_sdk::__private::Function = ::wasp_sdk::__private::Function {
            name: #name,
            call: {
                fn __wasp_wrapper(
                    input: ::std::vec::Vec<u8>,
                ) -> ::core::result::Result<::std::vec::Vec<u8>, ::wasp_sdk::Error> {
                    #body
                }
                __wasp_wrapper
            },
        };
    })
}

/// Reads `name = "..."`; anything else is an error that lists the valid options.
fn parse_options(attr: TokenStream) -> syn::Result<Option<LitStr>> {
    let mut name: Option<LitStr> = None;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("name") {
            if name.is_some() {
                return Err(meta.error("`name` is given twice"));
            }
            let value: LitStr = meta.value()?.parse()?;
            if value.value().trim().is_empty() {
                return Err(syn::Error::new(
                    value.span(),
                    "a plugin function's name cannot be empty",
                ));
            }
            name = Some(value);
            Ok(())
        } else {
            Err(meta.error(format!(
                "unknown option of `#[plugin_fn]`; valid options: {VALID_OPTIONS}"
            )))
        }
    });
    syn::parse::Parser::parse2(parser, attr)?;
    Ok(name)
}

/// Rejects the signatures that the wrapper cannot call: each error points at the
/// offending tokens and says what to write instead.
fn check_signature(function: &ItemFn) -> syn::Result<()> {
    let sig = &function.sig;
    if let Some(token) = &sig.asyncness {
        return Err(syn::Error::new(
            token.span(),
            "a `#[plugin_fn]` cannot be `async`: plugin calls run to completion; remove `async`",
        ));
    }
    if let Some(token) = &sig.unsafety {
        return Err(syn::Error::new(
            token.span(),
            "a `#[plugin_fn]` cannot be `unsafe`: the host calls it with any input; make it safe",
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(syn::Error::new(
            sig.generics.span(),
            "a `#[plugin_fn]` cannot be generic: the input and output types must be concrete, \
             e.g. `fn f(input: Json<MyType>) -> String`",
        ));
    }
    if let Some(variadic) = &sig.variadic {
        return Err(syn::Error::new(
            variadic.span(),
            "a `#[plugin_fn]` cannot be variadic; take one argument",
        ));
    }
    let mut inputs = sig.inputs.iter();
    match inputs.next() {
        Some(FnArg::Receiver(receiver)) => {
            return Err(syn::Error::new(
                receiver.span(),
                "a `#[plugin_fn]` cannot take `self`: write a free function, and keep state \
                 in a `thread_local!` or `static` if you need it",
            ));
        }
        Some(FnArg::Typed(arg)) => {
            if let Type::ImplTrait(_) = &*arg.ty {
                return Err(syn::Error::new(
                    arg.ty.span(),
                    "a `#[plugin_fn]` argument cannot be `impl Trait`: name a concrete type, \
                     e.g. `String`, `Vec<u8>` or `Json<MyType>`",
                ));
            }
        }
        None => {}
    }
    if let Some(extra) = inputs.next() {
        return Err(syn::Error::new(
            extra.span(),
            "a `#[plugin_fn]` takes at most one argument, the decoded input; to pass several \
             values take one tuple or struct, e.g. `Json((name, count)): Json<(String, u32)>`",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(attr: TokenStream, item: TokenStream) -> String {
        match expand(attr, item) {
            Ok(tokens) => panic!("expected an error, got {tokens}"),
            Err(e) => e.to_string(),
        }
    }

    fn expansion(attr: TokenStream, item: TokenStream) -> String {
        match expand(attr, item) {
            Ok(tokens) => tokens.to_string(),
            Err(e) => panic!("unexpected error: {e}"),
        }
    }

    #[test]
    fn infallible_function_is_kept_and_wrapped() {
        let out = expansion(
            quote!(),
            quote!(
                fn upper(input: String) -> String {
                    input.to_uppercase()
                }
            ),
        );
        assert!(out.contains("fn upper (input : String) -> String"), "{out}");
        assert!(out.contains("const __wasp_plugin_fn_upper"), "{out}");
        assert!(out.contains("name : \"upper\""), "{out}");
        assert!(out.contains("decode :: < String >"), "{out}");
    }

    /// The macro never looks at the return type's name: every return type goes
    /// through `PluginResult`, whose impls (for `Result` and for plain values)
    /// decide; `tests/results.rs` compiles the cases.
    #[test]
    fn every_return_type_goes_through_plugin_result() {
        for ret in [
            quote!(Result<String, Error>),
            quote!(wasp_sdk::Result<String>),
            quote!(MyAlias),
            quote!(String),
        ] {
            let out = expansion(quote!(), quote!(fn f(s: String) -> #ret { todo() }));
            assert!(out.contains("PluginResult :: into_output"), "{out}");
            assert!(!out.contains("Err (error)"), "{out}");
        }
    }

    #[test]
    fn zero_arguments_ignore_the_input() {
        let out = expansion(
            quote!(),
            quote!(
                fn count() -> String {
                    String::new()
                }
            ),
        );
        assert!(out.contains("let _ = input ; count ()"), "{out}");
    }

    #[test]
    fn name_option_renames_the_function() {
        let out = expansion(
            quote!(name = "big-output"),
            quote!(
                fn big_output(n: String) -> Vec<u8> {
                    Vec::new()
                }
            ),
        );
        assert!(out.contains("name : \"big-output\""), "{out}");
        assert!(out.contains("const __wasp_plugin_fn_big_output"), "{out}");
    }

    #[test]
    fn raw_identifiers_lose_their_prefix() {
        let out = expansion(
            quote!(),
            quote!(
                fn r#match(s: String) -> String {
                    s
                }
            ),
        );
        assert!(out.contains("name : \"match\""), "{out}");
        assert!(out.contains("__wasp_plugin_fn_match"), "{out}");
    }

    #[test]
    fn visibility_is_kept_on_the_constant() {
        let out = expansion(
            quote!(),
            quote!(
                pub(crate) fn f(s: String) -> String {
                    s
                }
            ),
        );
        assert!(
            out.contains("pub (crate) const __wasp_plugin_fn_f"),
            "{out}"
        );
    }

    #[test]
    fn unsupported_signatures_are_errors_with_hints() {
        let cases = [
            (
                quote!(
                    async fn f(s: String) -> String {
                        s
                    }
                ),
                "cannot be `async`",
            ),
            (
                quote!(
                    unsafe fn f(s: String) -> String {
                        s
                    }
                ),
                "cannot be `unsafe`",
            ),
            (
                quote!(
                    fn f<T>(s: T) -> String {
                        todo()
                    }
                ),
                "cannot be generic",
            ),
            (
                quote!(
                    fn f(s: String) -> String
                    where
                        String: Clone,
                    {
                        s
                    }
                ),
                "cannot be generic",
            ),
            (
                quote!(
                    fn f(&self) -> String {
                        todo()
                    }
                ),
                "cannot take `self`",
            ),
            (
                quote!(
                    fn f(a: String, b: String) -> String {
                        a
                    }
                ),
                "at most one argument",
            ),
            (
                quote!(
                    fn f(a: impl Into<String>) -> String {
                        a.into()
                    }
                ),
                "`impl Trait`",
            ),
            (
                quote!(
                    struct NotAFunction;
                ),
                "goes on a free function",
            ),
        ];
        for (item, expected) in cases {
            let error = error_of(quote!(), item);
            assert!(error.contains(expected), "{expected:?} not in {error:?}");
        }
    }

    #[test]
    fn bad_options_are_errors() {
        let item = quote!(
            fn f(s: String) -> String {
                s
            }
        );
        let error = error_of(quote!(rename = "x"), item.clone());
        assert!(error.contains("valid options: `name"), "{error}");
        let error = error_of(quote!(name = ""), item.clone());
        assert!(error.contains("cannot be empty"), "{error}");
        let error = error_of(quote!(name = "a", name = "b"), item.clone());
        assert!(error.contains("given twice"), "{error}");
        let error = error_of(quote!(name = 3), item);
        assert!(error.contains("expected string literal"), "{error}");
    }
}
