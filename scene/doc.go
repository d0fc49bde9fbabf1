// Package scene is a scripted tabletop pick-and-place world: the sample episodes the tools record
// into bags, the training labels for the tiny model, and the world of the closed-loop simulator
// (evaluation/closedloop).
//
// Two kinds of episode: the single task (Reset: one block, one pad; the scene the committed
// reference model was trained on, kept exactly as it was) and tabletop scenes (ResetTabletop:
// several blocks and pads, each of its own colour, so the instruction decides what goes where;
// random lighting and camera noise; a chain of instructions per episode, CALVIN-style). Start
// picks one by Config.Tabletop. Succeeded judges the task in force from the world state alone.
//
// Three parts stay apart so a learned policy can later replace the expert:
//
//   - State and Step: the world (end-effector pose, gripper, blocks, pads, the task) and its kinematic
//     update under a 7-D action. Step is pure: same state and action, same next state.
//   - Render: State to an RGB camera frame (rgb8). The camera noise comes from the episode seed
//     and step index, so a frame is a pure function of the state too.
//   - Expert: State to the scripted next action, phase by phase: approach (smooth free-space
//     motion), descend, stop, grasp (gripper closes), lift, transport, place, stop, release
//     (gripper opens), retreat. Motion is proportional and speed-limited, so consecutive actions
//     differ little in free space and the gripper flips exactly at grasp and release: the
//     continuity pattern DySL-VLA's skipping relies on. It labels any state, also the ones a
//     learned policy reaches (DAgger): a near miss below hover is mended on the way down, not by
//     rising back to hover, because a camera cannot tell those states from the expert's own.
//
// Episode runs the expert in closed loop from a seeded start and returns each step's image,
// instruction, action, the expert's K-step future chunk (the training label) and phase.
// Config.ActionNoise perturbs the motion it executes on the way to the block, never the labels, so
// the demonstrations also show the expert correcting (DART).
//
// Frames and units: the table frame has x forward, y left, z up, its origin at the table centre
// on the surface; lengths are metres, angles radians. The camera looks straight down at the table
// (image up is +x, image left is +y). An Action is
//
//	[dx, dy, dz, droll, dpitch, dyaw, gripper]
//
// with the first six per-step deltas of the end-effector pose (metres, radians) and gripper the
// absolute command, -1 open and +1 closed: Step closes on a command above 0. A policy whose gripper
// column means otherwise (the node's gripper_open and gripper_closed) is translated into this
// convention by the closed-loop simulator (evaluation/closedloop) where its commands enter the world;
// the scene itself knows only its own. The gripper stays pointing down (roll and pitch deltas from the
// expert are always zero; Step applies them but nothing here depends on them).
package scene
