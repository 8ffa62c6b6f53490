"""Small, torch-free pieces every tmkt package may use (imports neither torch nor lava, nor another tmkt
package): the energy model's hardware profiles and structural fan-outs (`energy_model`)."""
