//! Matrix files: parsing either syntax into one located tree (`document`), its shape (`schema`), the rules
//! (`load`, `checks`) with every problem located (`problems`, `source`), and expansion into cells (`expand`).

mod checks;
mod document;
mod expand;
mod load;
mod problems;
mod schema;
mod source;

pub use expand::{Cell, MAX_CELLS, cells, expand};
pub use load::{Axis, AxisValues, Known, MAX_NAME_BYTES, Matrix, explicit_axes, load};
pub use source::Source;
