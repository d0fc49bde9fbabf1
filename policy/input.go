package policy

import "dysl_vla/policy/modelinput"

// Image is a camera frame; package modelinput converts it into the model's input.
type Image = modelinput.Image

// InputError is a problem with an observation (not with the model): the caller drops the frame, counts
// it and serves the next one.
type InputError = modelinput.InputError
