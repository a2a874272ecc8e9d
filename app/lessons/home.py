"""Welcome page: what cnnviz teaches and where to start (no PyTorch needed, so it shows at once)."""
import streamlit as st

st.title("cnnviz: see what a convolutional network does")
st.markdown(
    """
Work through a CNN the way a first deep-learning assignment does, with every number on screen.

| Section | What you do there |
| --- | --- |
| **Convolution** | Step through a convolution cell by cell with the arithmetic written out; pooling, transposed convolution, output sizes and parameter counts. |
| **Train** | Train the classic MNIST and CIFAR-10 networks (and ResNet18) with live learning curves; compare runs. |
| **Inside a model** | Upload a photo, take one or draw a digit, and see every layer's feature maps, the filters and where the network looks. |
| **Evaluate** | Test accuracy, the confusion matrix and the images behind each of its cells. |

Pick a lesson in the sidebar. Every trained model in the zoo ships with the app, so nothing has to be trained first.
"""
)
