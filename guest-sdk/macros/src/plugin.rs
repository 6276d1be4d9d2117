//! `plugin!`: the plugin's description and the component exports.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Ident, LitStr, Path, Token, bracketed};

/// The keys that `plugin!` accepts, in the order the documentation gives them.
const VALID_KEYS: &str = "`name`, `version`, `description`, `init`, `shutdown`, `functions`";

/// Expands `plugin!(input)`.
pub(crate) fn expand(input: TokenStream) -> syn::Result<TokenStream> {
    let args: Args = syn::parse2(input)?;
    let Some(functions) = args.functions else {
        return Err(syn::Error::new(
            Span::call_site(),
            "`plugin!` needs `functions = [...]`: the `#[plugin_fn]` functions that the \
             plugin exports, e.g. `plugin!(functions = [upper])`",
        ));
    };

    let name = lit_or_env(args.name, "CARGO_PKG_NAME");
    let version = lit_or_env(args.version, "CARGO_PKG_VERSION");
    let description = lit_or_env(args.description, "CARGO_PKG_DESCRIPTION");

    let (init_fn, init) = match args.init {
        Some(path) => (
            quote_spanned! {path.span()=>
                fn __wasp_init() -> ::core::result::Result<(), ::wasp_sdk::Error> {
                    ::core::result::Result::map_err(#path(), ::core::convert::Into::into)
                }
            },
            quote!(::core::option::Option::Some(__wasp_init)),
        ),
        None => (quote!(), quote!(::core::option::Option::None)),
    };

    // `fn()` or `fn() -> Result<(), E>`: the trait picks the conversion, so the macro
    // need not know the return type (a wrong one is an error naming the trait's hint).
    let (shutdown_fn, shutdown) = match args.shutdown {
        Some(path) => (
            quote_spanned! {path.span()=>
                fn __wasp_shutdown() -> ::core::result::Result<(), ::wasp_sdk::Error> {
                    ::wasp_sdk::__private::HookOutput::into_result(#path())
                }
            },
            quote!(::core::option::Option::Some(__wasp_shutdown)),
        ),
        None => (quote!(), quote!(::core::option::Option::None)),
    };

    let consts = functions.iter().map(|path| {
        let mut path = path.clone();
        if let Some(last) = path.segments.last_mut() {
            last.ident = crate::function_const(&last.ident);
        }
        path
    });

    let guest = quote!(::wasp_sdk::__private::bindings::exports::wasp::plugin::guest);
    Ok(quote! {
        const _: () = {
            #init_fn
            #shutdown_fn

            const __WASP_FUNCTIONS: &[::wasp_sdk::__private::Function] = &[#(#consts),*];
            const _: () = ::core::assert!(
                ::wasp_sdk::__private::names_are_unique(__WASP_FUNCTIONS),
                "two functions listed in `plugin!` have the same name; rename one with \
                 `#[plugin_fn(name = \"...\")]`",
            );

            static __WASP_PLUGIN: ::wasp_sdk::__private::Plugin = ::wasp_sdk::__private::Plugin {
                name: #name,
                version: #version,
                description: #description,
                init: #init,
                shutdown: #shutdown,
                functions: __WASP_FUNCTIONS,
            };

            struct __WaspPlugin;

            impl #guest::Guest for __WaspPlugin {
                fn info() -> #guest::PluginInfo {
                    ::wasp_sdk::__private::export_info(&__WASP_PLUGIN)
                }
                fn init() -> ::core::result::Result<(), #guest::PluginError> {
                    ::wasp_sdk::__private::export_init(&__WASP_PLUGIN)
                }
                fn call(
                    function: ::std::string::String,
                    input: ::std::vec::Vec<u8>,
                ) -> ::core::result::Result<::std::vec::Vec<u8>, #guest::PluginError> {
                    ::wasp_sdk::__private::export_call(&__WASP_PLUGIN, &function, input)
                }
                fn call_batch(
                    function: ::std::string::String,
                    inputs: ::std::vec::Vec<::std::vec::Vec<u8>>,
                ) -> ::std::vec::Vec<
                    ::core::result::Result<::std::vec::Vec<u8>, #guest::PluginError>,
                > {
                    ::wasp_sdk::__private::export_call_batch(&__WASP_PLUGIN, &function, inputs)
                }
                fn shutdown() {
                    ::wasp_sdk::__private::export_shutdown(&__WASP_PLUGIN)
                }
            }

            ::wasp_sdk::__private::bindings::export!(
                __WaspPlugin with_types_in ::wasp_sdk::__private::bindings
            );
        };
    })
}

/// The literal if given, else the Cargo variable, read when the plugin compiles.
fn lit_or_env(lit: Option<LitStr>, variable: &str) -> TokenStream {
    match lit {
        Some(lit) => quote!(#lit),
        None => quote!(::core::env!(#variable)),
    }
}

/// The parsed arguments of `plugin!`, each key at most once.
#[derive(Default)]
struct Args {
    name: Option<LitStr>,
    version: Option<LitStr>,
    description: Option<LitStr>,
    init: Option<Path>,
    shutdown: Option<Path>,
    functions: Option<Vec<Path>>,
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Args::default();
        while !input.is_empty() {
            let key: Ident = input.parse().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    format!("expected a key; valid keys: {VALID_KEYS}"),
                )
            })?;
            let duplicate = || syn::Error::new(key.span(), format!("`{key}` is given twice"));
            input.parse::<Token![=]>()?;
            match key.to_string().as_str() {
                "name" => {
                    let value = non_empty(input.parse()?, "the plugin's name")?;
                    if args.name.replace(value).is_some() {
                        return Err(duplicate());
                    }
                }
                "version" => {
                    let value: LitStr = input.parse()?;
                    check_version(&value)?;
                    if args.version.replace(value).is_some() {
                        return Err(duplicate());
                    }
                }
                "description" => {
                    if args.description.replace(input.parse()?).is_some() {
                        return Err(duplicate());
                    }
                }
                "init" => {
                    let path: Path = input.parse()?;
                    if args.init.replace(path).is_some() {
                        return Err(duplicate());
                    }
                }
                "shutdown" => {
                    let path: Path = input.parse()?;
                    if args.shutdown.replace(path).is_some() {
                        return Err(duplicate());
                    }
                }
                "functions" => {
                    let list = parse_functions(input)?;
                    if args.functions.replace(list).is_some() {
                        return Err(duplicate());
                    }
                }
                _ => {
                    return Err(syn::Error::new(
                        key.span(),
                        format!("unknown key `{key}` in `plugin!`; valid keys: {VALID_KEYS}"),
                    ));
                }
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(args)
    }
}

/// `[a, module::b, ...]`: paths to `#[plugin_fn]` functions, none listed twice.
fn parse_functions(input: ParseStream<'_>) -> syn::Result<Vec<Path>> {
    let content;
    bracketed!(content in input);
    let paths = Punctuated::<Path, Token![,]>::parse_terminated(&content)?;
    let mut seen: Vec<String> = Vec::new();
    let mut list = Vec::new();
    for path in paths {
        let Some(last) = path.segments.last() else {
            return Err(syn::Error::new(path.span(), "expected a function"));
        };
        if !last.arguments.is_none() {
            return Err(syn::Error::new(
                last.arguments.span(),
                "list the function without generic arguments: `#[plugin_fn]` functions are \
                 never generic",
            ));
        }
        let ident = last.ident.to_string();
        if seen.contains(&ident) {
            return Err(syn::Error::new(
                path.span(),
                format!("`{ident}` is listed twice in `functions`"),
            ));
        }
        seen.push(ident);
        list.push(path);
    }
    Ok(list)
}

/// Rejects `""` for `what`.
fn non_empty(lit: LitStr, what: &str) -> syn::Result<LitStr> {
    if lit.value().trim().is_empty() {
        return Err(syn::Error::new(
            lit.span(),
            format!("{what} cannot be empty"),
        ));
    }
    Ok(lit)
}

/// Accepts a semantic version: `MAJOR.MINOR.PATCH`, optionally `-pre` and `+build`.
fn check_version(lit: &LitStr) -> syn::Result<()> {
    let value = lit.value();
    let core = value.split(['-', '+']).next().unwrap_or_default();
    let parts: Vec<&str> = core.split('.').collect();
    let numeric = |part: &&str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if parts.len() == 3 && parts.iter().all(numeric) {
        Ok(())
    } else {
        Err(syn::Error::new(
            lit.span(),
            format!("`{value}` is not a semantic version; write e.g. \"1.0.0\""),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(input: TokenStream) -> String {
        match expand(input) {
            Ok(tokens) => panic!("expected an error, got {tokens}"),
            Err(e) => e.to_string(),
        }
    }

    fn expansion(input: TokenStream) -> String {
        match expand(input) {
            Ok(tokens) => tokens.to_string(),
            Err(e) => panic!("unexpected error: {e}"),
        }
    }

    #[test]
    fn defaults_come_from_cargo() {
        let out = expansion(quote!(functions = [upper, shout]));
        assert!(out.contains("env ! (\"CARGO_PKG_NAME\")"), "{out}");
        assert!(out.contains("env ! (\"CARGO_PKG_VERSION\")"), "{out}");
        assert!(out.contains("env ! (\"CARGO_PKG_DESCRIPTION\")"), "{out}");
        assert!(
            out.contains("init : :: core :: option :: Option :: None"),
            "{out}"
        );
        assert!(
            out.contains("shutdown : :: core :: option :: Option :: None"),
            "{out}"
        );
        assert!(!out.contains("__wasp_shutdown"), "{out}");
        // The export exists anyway: the world requires it.
        assert!(out.contains("fn shutdown ()"), "{out}");
        assert!(
            out.contains("& [__wasp_plugin_fn_upper , __wasp_plugin_fn_shout]"),
            "{out}"
        );
        assert!(out.contains("export !"), "{out}");
    }

    #[test]
    fn every_key_is_used() {
        let out = expansion(quote!(
            name = "x",
            version = "1.0.0-rc.1+b5",
            description = "d",
            init = setup::run,
            shutdown = teardown,
            functions = [a, m::b],
        ));
        assert!(out.contains("name : \"x\""), "{out}");
        assert!(out.contains("version : \"1.0.0-rc.1+b5\""), "{out}");
        assert!(out.contains("description : \"d\""), "{out}");
        assert!(out.contains("setup :: run ()"), "{out}");
        assert!(out.contains("Some (__wasp_init)"), "{out}");
        assert!(out.contains("into_result (teardown ())"), "{out}");
        assert!(out.contains("Some (__wasp_shutdown)"), "{out}");
        assert!(out.contains("m :: __wasp_plugin_fn_b"), "{out}");
    }

    #[test]
    fn mistakes_are_errors_with_hints() {
        let cases = [
            (quote!(), "needs `functions = [...]`"),
            (quote!(name = "x"), "needs `functions = [...]`"),
            (
                quote!(functions = [a], fuctions = [b]),
                "unknown key `fuctions`",
            ),
            (
                quote!(functions = [a], fuctions = [b]),
                "valid keys: `name`, `version`, `description`, `init`, `shutdown`, `functions`",
            ),
            (
                quote!(functions = [a], shutdown = x, shutdown = y),
                "`shutdown` is given twice",
            ),
            (
                quote!(shutdown = "x", functions = [a]),
                "expected identifier",
            ),
            (
                quote!(functions = [a], functions = [b]),
                "`functions` is given twice",
            ),
            (quote!(functions = [a, b, a]), "`a` is listed twice"),
            (quote!(functions = [a, m::a]), "`a` is listed twice"),
            (quote!(functions = [f::<u8>]), "without generic arguments"),
            (quote!(name = "", functions = [a]), "name cannot be empty"),
            (
                quote!(version = "1.0", functions = [a]),
                "not a semantic version",
            ),
            (
                quote!(version = "x.y.z", functions = [a]),
                "not a semantic version",
            ),
            (quote!(name = x, functions = [a]), "expected string literal"),
            (quote!("x"), "expected a key"),
            (quote!(functions = a), "expected square brackets"),
        ];
        for (input, expected) in cases {
            let error = error_of(input);
            assert!(error.contains(expected), "{expected:?} not in {error:?}");
        }
    }

    #[test]
    fn trailing_comma_and_empty_list_are_fine() {
        expansion(quote!(functions = [a,],));
        expansion(quote!(functions = []));
    }
}
