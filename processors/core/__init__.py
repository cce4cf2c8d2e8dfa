"""The pure core: folds and read-side computations over frozen values. Imports only the standard
library, `schemas` and itself (the import contract in pyproject.toml checks it); no I/O."""
