"""The image losses, one file per family, each with its functions and its modules side by side:

- :mod:`.regression`: MSE, L1, Charbonnier (per-pixel weight maps);
- :mod:`.restoration`: SSIM, MS-SSIM, Zhao's MS-SSIM + L1 mix, total variation;
- :mod:`.segmentation`: cross-entropy with class weights, soft Dice, focal; :mod:`.overlap`: Tversky (and focal
  Tversky), generalized Dice, Dice + cross-entropy, Lovász-softmax;
- :mod:`.weightmaps`: U-Net border weight maps;
- :mod:`.perceptual`: Johnson's perceptual loss; :mod:`.style`: Gram matrix, style, texture, content/style;
- :mod:`.combined`: several feature losses on one backbone pass;
- :mod:`.topology`: Mosinska's topology loss, the topology-aware loss and iterative refinement;
  :mod:`.cldice`: soft skeleton and soft clDice;
- :mod:`.adversarial`: GAN objectives and WGAN helpers; :mod:`.penalties`: WGAN-GP, R1, R2, DRAGAN;
  :mod:`.cycle`: CycleGAN's cycle-consistency and identity losses and its image pool.
"""
