"""What the views and findings call a tensor the script never named (torch-free)."""

from gradscope.analyse.graph import tensor_label
from gradscope.capture import TensorInfo


def test_a_tensor_without_name_op_or_grad_fn_is_called_after_its_line_never_an_internal_id():
    # `self.scale = nn.Parameter(torch.ones(1)).to(torch.float64)`: the Parameter itself is bound to nothing
    assert tensor_label(TensorInfo(id=3, kind="parameter", is_parameter=True, line=15)) == "(nn.Parameter, line 15)"
    assert tensor_label(TensorInfo(id=4, line=2)) == "(tensor, line 2)"
    assert tensor_label(TensorInfo(id=5)) == "(tensor)"
    assert tensor_label(TensorInfo(id=6, op="mul", line=2)) == "(mul)"
    assert tensor_label(TensorInfo(id=7, grad_fn="MulBackward0")) == "MulBackward0"
    assert tensor_label(TensorInfo(id=8, name="w", param_name="model.w")) == "model.w"
