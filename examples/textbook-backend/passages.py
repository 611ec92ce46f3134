"""The corpus: a dozen short passages about physical AI and humanoid robotics.

Each passage keeps to its own topic and vocabulary, so a search for one topic ranks its passage
first with a real embedding model and with the small bag-of-words stand-in used by the tests.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Passage:
    id: str
    title: str
    text: str


PASSAGES: tuple[Passage, ...] = (
    Passage(
        "balance",
        "Balance",
        "Humanoid robots keep their balance by holding the center of mass above the feet. "
        "A balance controller reads the IMU and the foot force sensors and moves the ankle, "
        "hip and torso to recover balance before the robot tips over.",
    ),
    Passage(
        "gait",
        "Walking gait",
        "A walking gait is a repeating pattern of steps. Legged machines plan where each foot "
        "lands and swing one leg while the other supports the body, on flat floors, stairs "
        "and rough terrain.",
    ),
    Passage(
        "actuators",
        "Actuators",
        "Electric motors and gearboxes drive the joints. Torque, speed and backdrivability "
        "decide how an arm or a knee reacts to contact; series elastic actuators add a spring "
        "to measure and limit force.",
    ),
    Passage(
        "sensors",
        "Sensors",
        "Perception starts with sensors: cameras, lidar, depth cameras, joint encoders and an "
        "inertial measurement unit that reports orientation and acceleration many times per "
        "second.",
    ),
    Passage(
        "rl-simulation",
        "Reinforcement learning in simulation",
        "Reinforcement learning trains a control policy over millions of episodes in a physics "
        "simulator. The policy is rewarded for progress and penalised for mistakes long before "
        "it runs on hardware.",
    ),
    Passage(
        "sim-to-real",
        "Sim-to-real transfer",
        "Policies trained in simulation often fail on real hardware. Domain randomization of "
        "friction, mass and motor latency during training makes them robust to the reality gap "
        "between simulator and world.",
    ),
    Passage(
        "ros2",
        "ROS 2",
        "ROS 2 connects software nodes through topics, services and actions. Perception, "
        "planning and control exchange messages over DDS, and launch files start the whole "
        "software stack.",
    ),
    Passage(
        "grasping",
        "Grasping",
        "Grasping and manipulation: a gripper or a hand with fingers must find a stable grasp "
        "pose, plan the arm trajectory and control grip force so that objects do not slip.",
    ),
    Passage(
        "vla",
        "Vision-language-action models",
        "Vision-language-action models map a camera image and a text instruction to motor "
        "commands. Trained on large sets of demonstrations, one neural network follows "
        "requests like 'pick up the red cup'.",
    ),
    Passage(
        "safety",
        "Safety around people",
        "Collaborative machines limit speed and force, stop when a person comes too close, and "
        "rely on emergency stop buttons and certified safety controllers when they share a "
        "workspace with people.",
    ),
    Passage(
        "navigation",
        "Navigation and SLAM",
        "SLAM builds a map while estimating the pose of the platform from lidar, camera and "
        "wheel odometry; a planner then finds a collision-free path through the map to the "
        "goal.",
    ),
    Passage(
        "power",
        "Power and endurance",
        "Batteries limit how long a machine can work between charges. Efficient motors, "
        "regenerative braking and sleep modes for idle electronics extend the runtime of the "
        "battery pack.",
    ),
)
