//! Python environments, one per cell: the interpreter, uv, and the content-addressed cache of built venvs.

mod cache;
mod interpreter;
pub mod project;
pub mod recipe;
mod uv;

pub use cache::{Cache, Env, EnvFailure, EnvSpec, quote};
pub use interpreter::{Interpreter, Interpreters, PythonSearch};
pub use uv::Uv;
