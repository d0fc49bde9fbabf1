"""Start dysl_vla_node: a VLA policy with DySL-VLA layer skipping on a camera topic.

    ros2 launch dysl_vla dysl_vla.launch.py model_dir:=/models/oft-dysl image_topic:=/camera/color/image_raw

Playing a recording into it: `ros2 bag play --clock 100 BAG` with `use_sim_time:=true` here, so frames are
judged against the bag's time, not today's. `managed:=true` starts a lifecycle node (unconfigured) that a
bring-up configures and activates through ~/change_state.

Node parameters that are not launch arguments (mavlink.enabled, controller_threshold, ...) go in
params_file: `name:=value` on the command line for one of them is not passed to the node.

Stop it with SIGINT (Ctrl-C; `docker stop --signal SIGINT`, systemd `KillSignal=SIGINT`): Humble's
launch answers SIGTERM by exiting and leaves the node running.
"""

import difflib

import launch.logging
import yaml
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

# Arguments ros2 launch adds to every launch file's own.
LAUNCH_OWN_ARGUMENTS = {'launch-prefix', 'launch-prefix-filter'}


def node_parameter_names(params_path):
    """The dotted names of every parameter the node's own params file lists (all of them, with defaults)."""
    try:
        with open(params_path) as f:
            doc = yaml.safe_load(f)
        params = doc['/**']['ros__parameters']
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return set()
    names = set()

    def walk(prefix, value):
        if isinstance(value, dict):
            for key, child in value.items():
                walk(f'{prefix}{key}.', child)
        else:
            names.add(prefix[:-1])
    walk('', params)
    return names


def warn_unknown_arguments(context, declared, params_path):
    """Warn about command-line arguments this file does not declare, which launch ignores in silence.

    Only a node parameter's name (controller_threshold, mavlink.enabled) or a name close to a declared
    argument (a typo: image_topci) is named: a parent launch file that includes this one passes its own
    arguments too, and those are not mistakes.
    """
    logger = launch.logging.get_logger('dysl_vla.launch')
    parameters = node_parameter_names(params_path.perform(context))
    for arg in context.argv or []:
        name, sep, _ = arg.partition(':=')
        if not sep or name in declared or name in LAUNCH_OWN_ARGUMENTS:
            continue
        if name in parameters:
            logger.warning(f'{name} is a parameter of dysl_vla_node, not a launch argument, and is ignored: '
                           f'set it in the file given as params_file:=')
            continue
        close = difflib.get_close_matches(name, declared, n=1, cutoff=0.8)
        if close:
            logger.warning(f'{name} is not a launch argument of dysl_vla.launch.py and is ignored; did you mean {close[0]}?')
    return []


# Launch arguments that set the node parameter of their name, and its type. Given on the command line,
# one overrides params_file; left out (its default, FROM_PARAMS_FILE), the file's value stands, else the
# node's default: a params file that sets use_sim_time or image_transport is not undone by an argument
# nobody gave.
PARAMETER_ARGUMENTS = {'image_topic': str, 'image_transport': str, 'execution_provider': str,
                       'use_sim_time': bool, 'managed': bool}
FROM_PARAMS_FILE = ''


def dysl_vla_node(context):
    given = {}
    for name, kind in PARAMETER_ARGUMENTS.items():
        argument = LaunchConfiguration(name)
        if argument.perform(context) != FROM_PARAMS_FILE:
            given[name] = ParameterValue(argument, value_type=kind)
    return [Node(
        package='dysl_vla',
        executable='dysl_vla_node',
        name='dysl_vla_node',
        namespace=LaunchConfiguration('namespace'),
        output='screen',
        parameters=[
            LaunchConfiguration('params_file'),
            {
                # As a string whatever it looks like (value_type, as for every argument above): launch_ros
                # reads a bare substitution as YAML, so model_dir:=2024 would reach the node as an integer.
                'model_dir': ParameterValue(LaunchConfiguration('model_dir'), value_type=str),
                **given,
            },
        ],
        remappings=[('joint_states', LaunchConfiguration('joint_states_topic'))],
        arguments=['--ros-args', '--log-level', LaunchConfiguration('log_level')],
    )]


def generate_launch_description():
    default_params = PathJoinSubstitution([FindPackageShare('dysl_vla'), 'params', 'dysl_vla.yaml'])
    arguments = [
        DeclareLaunchArgument('model_dir', description='DySL model bundle directory (manifest.yaml + ONNX graphs)'),
        DeclareLaunchArgument('params_file', default_value=default_params,
                              description='ros__parameters file; the launch arguments below that are given override it'),
        DeclareLaunchArgument('image_topic', default_value=FROM_PARAMS_FILE,
                              description='camera topic the node subscribes to (its image_topic parameter); left empty, the value in params_file, else the node default: image'),
        DeclareLaunchArgument('image_transport', default_value=FROM_PARAMS_FILE,
                              description='raw (sensor_msgs/msg/Image on image_topic) or compressed (sensor_msgs/msg/CompressedImage, JPEG or PNG, on image_topic/compressed); left empty, the value in params_file, else the node default: raw'),
        DeclareLaunchArgument('joint_states_topic', default_value='joint_states',
                              description='robot state topic, read for a bundle with a state block (remapped onto "joint_states")'),
        DeclareLaunchArgument('namespace', default_value='', description='namespace of the node'),
        DeclareLaunchArgument('execution_provider', default_value=FROM_PARAMS_FILE,
                              description='ONNX Runtime execution provider: cpu, cuda or tensorrt; left empty, the value in params_file, else the node default: cpu'),
        DeclareLaunchArgument('use_sim_time', default_value=FROM_PARAMS_FILE,
                              description='true: follow /clock (ros2 bag play --clock) instead of the system clock; left empty, the value in params_file, else the node default: false'),
        DeclareLaunchArgument('managed', default_value=FROM_PARAMS_FILE,
                              description='true: start as a lifecycle node in unconfigured state; left empty, the value in params_file, else the node default: false'),
        DeclareLaunchArgument('log_level', default_value='info', description='ROS log level of the node'),
    ]
    declared = [a.name for a in arguments]
    return LaunchDescription(arguments + [
        OpaqueFunction(function=warn_unknown_arguments, args=[declared, default_params]),
        OpaqueFunction(function=dysl_vla_node),
    ])
