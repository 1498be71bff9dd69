//! Matrix files: the serde model (`spec`), validation with located errors (`load`), and expansion into cells
//! (`expand`).

mod expand;
mod load;
mod source;
mod spec;

pub use expand::{Cell, expand};
pub use load::{Axis, AxisValues, Known, Matrix, explicit_axes, load};
pub use source::Source;
