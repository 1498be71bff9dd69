//! Matrix files: the validated matrix (`model`) and a cell's identity (`cell_key`); parsing either syntax into one
//! located tree (`document`), its shape (`schema`), the rules (`load`, `checks`) with every problem located
//! (`problems`, `source`), and expansion into cells (`expand`).

pub mod cell_key;
mod checks;
mod declared;
mod document;
mod expand;
mod load;
mod model;
mod problems;
mod schema;
mod source;

pub use expand::{Cell, LocalWheel, MAX_CELLS, cells, expand};
pub use load::{MAX_NAME_BYTES, load};
pub use model::{
    Assignment, Axis, AxisValues, BuildRecipe, Known, Matrix, PYTHON_AXIS, Project, explicit_axes,
};
pub use source::Source;
