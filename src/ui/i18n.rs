//! Every string the UI shows, in English and Simplified Chinese (the course
//! this project comes from is taught in Chinese). One `match` per text, so a
//! missing translation is a compile error, not a blank label.

/// The UI language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Zh,
}

impl Lang {
    /// BCP 47 tag for `<html lang>` and the `lang` URL parameter.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-CN",
        }
    }

    pub fn from_tag(tag: &str) -> Option<Lang> {
        let tag = tag.to_ascii_lowercase();
        if tag.starts_with("zh") {
            Some(Lang::Zh)
        } else if tag.starts_with("en") {
            Some(Lang::En)
        } else {
            None
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::Zh,
            Lang::Zh => Lang::En,
        }
    }
}

/// Declares [`Text`] and its translation table in one place, so a text
/// cannot exist without both languages.
macro_rules! texts {
    ($($(#[$doc:meta])* $name:ident => ($en:expr, $zh:expr $(,)?),)*) => {
        /// A piece of UI text.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Text { $($(#[$doc])* $name,)* }

        impl Text {
            /// Every text, for tests.
            pub const ALL: &'static [Text] = &[$(Text::$name,)*];
        }

        /// The translation table: `(English, 简体中文)`.
        fn pair(text: Text) -> (&'static str, &'static str) {
            match text { $(Text::$name => ($en, $zh),)* }
        }
    };
}

texts! {
    Tagline => ("Self-supervised pretraining, live in your browser", "自监督预训练，在浏览器里亲手试"),
    HomeIntro => (
        "Four ways to learn from unlabelled data: predict the hidden part (generative) or tell matching views apart (discriminative), for images and for text. Each card opens a demo that runs a real neural network on your device.",
        "从无标注数据中学习的四种方法：预测被遮住的部分（生成式），或区分相互匹配的视图（判别式）；分别用于图像和文本。每张卡片打开一个演示，真正的神经网络就在你的设备上运行。",
    ),
    Generative => ("Generative", "生成式"),
    Discriminative => ("Discriminative", "判别式"),
    Vision => ("Vision (CV)", "视觉 (CV)"),
    Language => ("Language (NLP)", "语言 (NLP)"),
    BertSummary => (
        "Masked language modelling: 15% of the tokens are selected (80% become [MASK], 10% a random token, 10% stay) and the model predicts them from both sides; next-sentence prediction classifies [CLS]. Input: [CLS] A [SEP] B [SEP]; each token's embedding is token + segment + position.",
        "掩码语言模型：随机选 15% 的词元（其中 80% 换成 [MASK]，10% 换成随机词元，10% 不变），模型根据左右两侧上下文预测原词；下一句预测用 [CLS] 的输出做二分类。输入为 [CLS] A [SEP] B [SEP]，每个词元的嵌入 = 词元嵌入 + 段嵌入 + 位置嵌入。",
    ),
    IgptSummary => (
        "Images quantized to a small palette and read as a 1-D sequence of pixels; a small GPT learns to predict the next pixel (or, BERT-style, masked pixels). It completes the hidden half of an image, and a linear probe on its features tests what it learned.",
        "把图像量化到一个小调色板，并按顺序读成一维像素序列；一个小型 GPT 学习预测下一个像素（或像 BERT 一样预测被遮住的像素）。它能补全被遮住的半张图，再用线性探针检验它学到的特征。",
    ),
    SimclrSummary => (
        "Two random augmentations of each image form a positive pair; one shared encoder and projection head map all 2N views to vectors, and the NT-Xent loss pulls each positive pair together while pushing the other 2(N−1) views away. Train it on your own images.",
        "同一张图像的两次随机增强构成正样本对；共享的编码器和投影头把 2N 个视图映射成向量，NT-Xent 损失拉近每个正样本对、推开其余 2(N−1) 个视图。可以用你自己的图片来训练。",
    ),
    SimcseSummary => (
        "SimCLR's idea carried to sentences: the same sentence encoded twice with different dropout is a positive pair (unsupervised); entailment pairs are positives and contradictions hard negatives (supervised). See similarity, alignment and uniformity.",
        "把 SimCLR 的思想用于句子：同一句话用不同的 dropout 编码两次，得到正样本对（无监督）；蕴含句对作正样本、矛盾句作困难负样本（有监督）。观察相似度、对齐性与均匀性。",
    ),
    SimcseIntro => (
        "A sentence encoder maps each sentence to a vector; similar meanings should point the same way (cosine similarity). SimCSE (Gao et al. 2021) trains one contrastively: unsupervised, each sentence is encoded twice with different dropout masks and the two are a positive pair, the other sentences of the batch negatives; supervised, an entailment is the positive and a contradiction a hard negative. Everything below runs in your browser.",
        "句子编码器把每个句子映射成一个向量；意思相近的句子方向应当相近（余弦相似度）。SimCSE（Gao 等，2021）用对比学习训练编码器：无监督时，同一句子用不同的 dropout 掩码编码两次，两者构成正样本对，批内其他句子是负样本；有监督时，蕴含句是正样本，矛盾句是困难负样本。下面的一切都在你的浏览器中运行。",
    ),
    SimcseEncoder => ("Sentence encoder", "句子编码器"),
    SimcseEncoderMiniLm => ("all-MiniLM-L6-v2 · mean pooling (contrastively trained)", "all-MiniLM-L6-v2 · 平均池化（经对比学习训练）"),
    SimcseEncoderRawCls => ("raw: Pretext's MLM encoder · [CLS]", "原始：Pretext 的 MLM 编码器 · [CLS]"),
    SimcseEncoderRawMean => ("raw: Pretext's MLM encoder · mean pooling", "原始：Pretext 的 MLM 编码器 · 平均池化"),
    SimcseEncoderNote => (
        "all-MiniLM-L6-v2 was trained contrastively on a billion sentence pairs, SimCSE's family. The raw encoder is the fill-mask model of the BERT demo: MiniLM whose top 2 layers this project retrained for masked-LM only, so its embeddings were never shaped for similarity. Compare how crowded its similarities are (every pair looks alike: anisotropy), then train it with SimCSE below.",
        "all-MiniLM-L6-v2 在十亿个句对上做过对比学习训练，与 SimCSE 同属一类。原始编码器就是 BERT 演示中的填空模型：本项目只用掩码语言模型重新训练了 MiniLM 最上面 2 层，它的嵌入从未为相似度而塑造。看看它的相似度有多拥挤（任何两句都很像：各向异性），再在下面用 SimCSE 训练它。",
    ),
    SimcseLoading => ("Loading the encoder…", "正在加载编码器…"),
    SimcseSentencesLabel => ("Sentences, one per line", "句子，每行一句"),
    SimcseAddPlaceholder => ("Another sentence…", "再加一句…"),
    SimcseAdd => ("Add", "添加"),
    SimcseRemove => ("Remove", "删除"),
    SimcseHeatmapCaption => ("Cosine similarity of every pair of sentences (row i, column j; hover for the value).", "每一对句子的余弦相似度（第 i 行、第 j 列；悬停查看数值）。"),
    SimcseEmptyList => ("Type at least one sentence.", "请至少输入一个句子。"),
    SimcseSkippedEmpty => ("empty lines skipped", "个空行已跳过"),
    SimcseCut => ("was cut to the model's token limit; it had", "已截断到模型的词元上限；原有"),
    SimcseTokens => ("tokens", "个词元"),
    SimcseOneSentence => ("Only one sentence: there is nothing to compare it with. Add another.", "只有一个句子，没有可比较的对象。请再添加一句。"),
    SimcseQueryLabel => ("Search the list by meaning", "按语义搜索列表"),
    SimcseQueryPlaceholder => ("e.g. a musician on stage", "例如：舞台上的音乐家"),
    SimcseStsTitle => ("STS score: Spearman correlation between cosine similarity and human 0–5 similarity ratings", "STS 分数：余弦相似度与人工 0–5 相似度评分之间的 Spearman 相关系数"),
    SimcseStsNote => ("Pairs written for this project (negations, swapped roles, paraphrases…), spread over the whole scale; how many to score:", "本项目编写的句对（否定、角色互换、同义改写……），均匀覆盖整个评分范围；参与评分的对数："),
    SimcsePairsColumn => ("pairs", "句对数"),
    SimcseStsScoring => ("Scoring", "评分中"),
    SimcseEncoderColumn => ("encoder", "编码器"),
    SimcseAlignColumn => ("alignment ↓", "对齐性 ↓"),
    SimcseUniformColumn => ("uniformity ↓", "均匀性 ↓"),
    SimcseTrainTitle => ("Train it with SimCSE, here", "在这里用 SimCSE 训练它"),
    SimcseTrainNote => (
        "Training changes the encoder picked above: its top 2 layers (and, with [CLS] pooling, a training-only MLP) learn with Adam; the rest stays frozen so that a step fits in a browser. Unsupervised batches come from a bundled sample of public-domain prose (or your own list); supervised batches from project-written NLI triples. When a run stops, the heatmap, the search and the STS score use the trained encoder.",
        "训练会改变上面选中的编码器：最上面 2 层（以及使用 [CLS] 池化时仅在训练中使用的 MLP）用 Adam 学习，其余各层冻结，使每一步都能在浏览器中完成。无监督批次取自内置的公有领域文本样本（或你自己的列表）；有监督批次取自本项目编写的 NLI 三元组。一次训练停止后，热力图、搜索和 STS 分数都会改用训练后的编码器。",
    ),
    SimcseTrainUnsup => ("Train unsupervised", "无监督训练"),
    SimcseTrainSup => ("Train supervised", "有监督训练"),
    SimcseTrainOnMine => ("unsupervised: train on my sentences instead of the bundled sample", "无监督：用我的句子代替内置样本训练"),
    SimcseTrainedLabel => ("after SimCSE", "SimCSE 训练后"),
    SimcseTwoViews => ("Encode the first sentence twice with dropout on", "开启 dropout，把第一句编码两次"),
    SimcseTwoViewsResult => ("cosine of its two dropout views (a positive pair; without dropout it is exactly 1)", "两个 dropout 视图的余弦相似度（一对正样本；不用 dropout 时正好为 1）"),
    SimcseAlignUniformCaption => (
        "Alignment (how close positive pairs are) against uniformity (how evenly all embeddings spread over the sphere), both lower-is-better, on held-out paraphrase pairs (Wang & Isola 2020; SimCSE's Figure 2). Squares: encoders as loaded; the path: the run in progress, a dot every few steps.",
        "对齐性（正样本对有多近）对比均匀性（所有嵌入在球面上分布得多均匀），两者都是越低越好，在留出的同义句对上计算（Wang & Isola 2020；SimCSE 论文图 2）。方块：加载时的编码器；路径：正在进行的训练，每隔几步一个点。",
    ),
    SimcseRanking => ("Most similar first", "最相似的排在前面"),
    InspiredBy => ("inspired by", "受其启发"),
    OpenDemo => ("Open the demo", "打开演示"),
    BackHome => ("Back to the map", "返回总览"),
    NotFound => ("There is no page at this address.", "这个地址没有页面。"),
    NavAssets => ("Offline & weights", "离线与权重"),
    /// The label of the language switch names the other language.
    SwitchLanguage => ("中文", "English"),
    BackendStarting => ("Starting compute…", "正在启动计算后端…"),
    BackendCpu => ("CPU (WebAssembly)", "CPU (WebAssembly)"),
    BackendWebGpu => ("WebGPU", "WebGPU"),
    UseCpu => ("Use CPU", "使用 CPU"),
    UseWebGpu => ("Use WebGPU", "使用 WebGPU"),
    ReasonRequested => ("Running on the CPU as requested.", "按要求在 CPU 上运行。"),
    ReasonNoWebGpuApi => (
        "This browser has no WebGPU, so the models run on the CPU instead.",
        "此浏览器不支持 WebGPU，模型改在 CPU 上运行。",
    ),
    ReasonNoAdapter => (
        "No WebGPU adapter is available, so the models run on the CPU instead.",
        "没有可用的 WebGPU 适配器，模型改在 CPU 上运行。",
    ),
    ReasonAdapterRequestFailed => (
        "Asking for a WebGPU adapter failed, so the models run on the CPU instead.",
        "请求 WebGPU 适配器失败，模型改在 CPU 上运行。",
    ),
    ReasonSoftwareAdapterSlower => (
        "The only WebGPU adapter is a software one, which is slower than the CPU here, so the CPU runs the models.",
        "唯一的 WebGPU 适配器是软件模拟的，比 CPU 还慢，所以由 CPU 运行模型。",
    ),
    ReasonNoSubgroups => (
        "This browser's WebGPU lacks subgroups, which the GPU kernels here need, so the CPU runs the models.",
        "此浏览器的 WebGPU 不支持 subgroups，而这里的 GPU 内核需要它，所以由 CPU 运行模型。",
    ),
    ReasonInitFailed => (
        "WebGPU could not be started, so the models run on the CPU instead.",
        "WebGPU 无法启动，模型改在 CPU 上运行。",
    ),
    ReasonSelftestFailed => (
        "The GPU failed a quick correctness check, so the models run on the CPU instead.",
        "GPU 没有通过快速正确性检查，模型改在 CPU 上运行。",
    ),
    ReasonDeviceLost => (
        "The GPU device was lost; the models continue on the CPU and nothing you did was lost.",
        "GPU 设备已丢失；模型已转到 CPU 上继续运行，你的操作没有丢失。",
    ),
    SoftwareAdapterForced => (
        "WebGPU runs on a software adapter as requested; the CPU would be faster on this machine.",
        "已按要求在软件模拟的 WebGPU 适配器上运行；在这台机器上 CPU 会更快。",
    ),
    ComputeBackendLabel => ("Compute backend", "计算后端"),
    SelftestTime => ("64×64 check", "64×64 自检"),
    AssetsTitle => ("Offline & weights", "离线与权重"),
    AssetsIntro => (
        "Every weights file is checked against its pinned sha256 and kept in your browser's cache, so the second visit downloads nothing. Before a class, download everything here once.",
        "每个权重文件都会按固定的 sha256 校验，并保存在浏览器缓存中，第二次访问无需再下载。上课前可在这里一次性全部下载。",
    ),
    DownloadAll => ("Download everything", "全部下载"),
    Download => ("Download", "下载"),
    LoadIdle => ("Not loaded yet", "尚未加载"),
    LoadDownloading => ("Downloading", "正在下载"),
    LoadFromCache => ("Reading from the browser cache", "正在从浏览器缓存读取"),
    LoadDone => ("Ready, checksum verified", "已就绪，校验通过"),
    LoadErrorNetwork => ("The download failed", "下载失败"),
    LoadErrorHttp => ("The server refused the file", "服务器拒绝了该文件"),
    LoadErrorChecksum => (
        "The file arrived damaged (its checksum does not match) and was not used",
        "文件已损坏（校验和不符），未被使用",
    ),
    LoadErrorUnknownAsset => ("This file is not in the asset manifest", "此文件不在资源清单中"),
    Retry => ("Retry", "重试"),
    SimclrPrivacy => (
        "Your images never leave this browser: they are decoded, augmented and trained on here, and nothing is uploaded.",
        "你的图片不会离开这个浏览器：解码、增强和训练都在本地完成，不会上传任何内容。",
    ),
    SimclrStep1 => ("1 · Images", "1 · 图片"),
    SimclrDrop => (
        "Drop images here or pick files (PNG, JPEG, WebP, GIF; up to 512 images, 40 MB and 50 megapixels each).",
        "把图片拖到这里，或选择文件（PNG、JPEG、WebP、GIF；最多 512 张，每张不超过 40 MB、5000 万像素）。",
    ),
    SimclrSamples => ("Use the sample set", "使用示例图片"),
    SimclrClear => ("Remove all images", "移除全部图片"),
    SimclrImagesCount => ("images", "张图片"),
    SimclrStep2 => ("2 · Two augmented views of each image", "2 · 每张图片的两个增强视图"),
    SimclrResample => ("Resample views", "重新采样视图"),
    SimclrViewsNote => (
        "Each row: an image, then its two random views (a positive pair). Shown for the first 16 images.",
        "每一行：原图及其两个随机视图（一个正样本对）。只显示前 16 张。",
    ),
    AugCrop => ("random resized crop", "随机裁剪缩放"),
    AugFlip => ("horizontal flip", "水平翻转"),
    AugJitter => ("colour jitter (p = 0.8)", "颜色抖动 (p = 0.8)"),
    AugGrey => ("greyscale (p = 0.2)", "随机灰度 (p = 0.2)"),
    AugBlur => ("Gaussian blur (p = 0.5)", "高斯模糊 (p = 0.5)"),
    AugStrength => ("colour strength", "颜色强度"),
    CropScale => ("crop area", "裁剪面积"),
    SimclrStep3 => ("3 · Train encoder + projection head with NT-Xent", "3 · 用 NT-Xent 训练编码器与投影头"),
    Train => ("Train", "训练"),
    Pause => ("Pause", "暂停"),
    Reset => ("Reset", "重置"),
    Temperature => ("temperature τ", "温度 τ"),
    BatchSize => ("batch size N", "批大小 N"),
    LearningRate => ("learning rate", "学习率"),
    ModelWidth => ("encoder width", "编码器宽度"),
    ViewSize => ("view size (px)", "视图尺寸（像素）"),
    StepBudget => ("steps per run", "每次训练步数"),
    StepLabel => ("step", "步"),
    StepsPerSecond => ("steps/s", "步/秒"),
    LastLoss => ("loss", "损失"),
    SimclrHeatmap => (
        "Cosine similarity of the current batch's 2N projections (red = similar, blue = opposite). Outlined cells are the positive pairs NT-Xent pulls together; every other cell in a row is a negative it pushes away.",
        "当前批次 2N 个投影向量的余弦相似度（红 = 相似，蓝 = 相反）。描边的格子是 NT-Xent 拉近的正样本对；同一行的其他格子都是被推开的负样本。",
    ),
    SimclrEmbedding => (
        "The representations h of all images, projected to 2-D with PCA. Click an image to see its 5 nearest neighbours by cosine similarity.",
        "所有图片的表示 h，用 PCA 投影到二维。点击一张图片，查看余弦相似度最高的 5 个近邻。",
    ),
    SimclrNeighbours => ("Nearest neighbours", "最近邻"),
    ExportEncoder => ("Export encoder (safetensors)", "导出编码器 (safetensors)"),
    ExportLoss => ("Export loss history (CSV)", "导出损失记录 (CSV)"),
    SimclrNoImages => ("Add images or use the sample set first.", "请先添加图片或使用示例图片。"),
    SimclrCapped => ("images were left out: the limit is 512.", "张图片未加入：上限为 512 张。"),
    DeviceChanged => (
        "The compute device changed, so training stopped; the loss history is kept. Press Train to start again on the new device.",
        "计算设备已更换，训练已停止，损失记录已保留。按“训练”在新设备上重新开始。",
    ),
    WaitingForBackend => ("Waiting for the compute backend…", "正在等待计算后端…"),
    PrivacyNote => (
        "Everything runs on your device: no image or sentence you enter leaves the browser.",
        "一切都在你的设备上运行：你输入的图片和句子不会离开浏览器。",
    ),
    Attribution => ("Third-party weights and data", "第三方权重与数据"),
    IgptIntro => (
        "iGPT (Chen et al. 2020) reads an image as a sequence: shrink it, quantize every pixel to a small k-means palette, read the palette indices row by row, and train a GPT to predict each pixel from the ones before it — or, BERT-style, masked pixels from everything around them. Here a small GPT trained by this project on Fashion-MNIST (14×14, 8 grey levels) completes the part you mask, pixel by pixel, and a linear probe tests what its features learned.",
        "iGPT（Chen 等，2020）把图像当作序列：缩小图像，把每个像素量化到一个小的 k-means 调色板，按行读出调色板索引，然后训练 GPT 根据之前的像素预测下一个像素——或者像 BERT 那样，根据周围的一切预测被遮住的像素。这里，本项目在 Fashion-MNIST（14×14，8 级灰度）上训练的小 GPT 会逐像素补全你遮住的部分，线性探针则检验它的特征学到了什么。",
    ),
    IgptStep1 => ("1 · Pick, draw or upload an image", "1 · 选择、绘制或上传一张图片"),
    IgptStep2 => ("2 · Resize → quantize → sequence, and choose the mask", "2 · 缩小 → 量化 → 序列，并选择遮挡区域"),
    IgptStep3 => ("3 · Complete the masked part", "3 · 补全被遮挡的部分"),
    IgptStep4 => ("4 · Linear probe: are the learned features useful?", "4 · 线性探针：学到的特征有用吗？"),
    IgptOriginal => ("original 28×28 (draw on it with the mouse or a finger)", "原图 28×28（可用鼠标或手指在上面绘制）"),
    IgptCanvasLabel => ("Drawing canvas, 28 by 28 pixels", "绘图画布，28×28 像素"),
    IgptClearCanvas => ("Clear canvas (draw your own)", "清空画布（自己画）"),
    IgptUpload => ("Upload a photo", "上传照片"),
    IgptUploadFailed => ("pick a PNG, JPEG, WebP or GIF image.", "请选择 PNG、JPEG、WebP 或 GIF 图片。"),
    IgptResized => ("resized", "缩小到"),
    IgptQuantized => ("quantized to the palette; masked pixels red", "量化到调色板；被遮挡的像素显示为红色"),
    IgptLevels => ("grey levels", "级灰度"),
    IgptSequence => (
        "the same pixels as a 1-D sequence, row by row (the model reads left to right; the yellow cell is the pixel being generated)",
        "同样的像素按行排成一维序列（模型从左到右读；黄色格子是正在生成的像素）",
    ),
    IgptMask => ("Mask:", "遮挡："),
    IgptMaskBottom => ("bottom half", "下半部分"),
    IgptMaskRight => ("right half", "右半部分"),
    IgptMaskBrush => ("brush", "画笔"),
    IgptMaskNone => ("nothing", "不遮挡"),
    IgptClearMask => ("Clear brush mask", "清除画笔遮挡"),
    IgptBrushHint => (
        "Brush: drag over the quantized image to mask pixels.",
        "画笔：在量化后的图像上拖动即可遮挡像素。",
    ),
    IgptTemperature => ("temperature", "温度"),
    IgptSeed => ("seed ", "随机种子 "),
    IgptMaskedMode => (
        "also fill with the masked-pixel (BERT-objective) model",
        "同时用掩码像素（BERT 目标）模型填充",
    ),
    IgptComplete => ("Complete", "补全"),
    IgptLoadingImages => ("Loading the sample images…", "正在加载示例图片…"),
    IgptKvCache => ("KV cache", "KV 缓存"),
    IgptKvCacheHint => (
        "Keep each layer's keys and values of the pixels so far, so pixel t costs one position's forward pass instead of t. Switch it off to compare the ms/pixel.",
        "保存每层已生成像素的键和值，使第 t 个像素只需计算一个位置，而不是 t 个。关闭它可以对比每像素耗时。",
    ),
    IgptStop => ("Stop", "停止"),
    IgptNextRow => (
        "Next-pixel model (GPT objective): 4 samples, generated in raster order",
        "下一像素模型（GPT 目标）：4 个样本，按光栅顺序生成",
    ),
    IgptMaskedRow => (
        "Masked-pixel model (BERT objective): filled most-confident-first, seeing both sides",
        "掩码像素模型（BERT 目标）：先填最有把握的像素，能看到两侧",
    ),
    IgptDistribution => ("the model's palette distribution at", "模型在此像素的调色板分布"),
    IgptGiven => ("a given pixel (not generated)", "给定的像素（不是生成的）"),
    IgptHoverHint => (
        "Hover a generated pixel to see the distribution it was drawn from.",
        "把鼠标移到生成的像素上，查看它是从什么分布中采样的。",
    ),
    IgptNothingMasked => (
        "Nothing is masked, so there is nothing to complete: choose a mask first.",
        "没有任何遮挡，无需补全：请先选择遮挡区域。",
    ),
    IgptUnconditional => (
        "The mask covers the whole image: the model samples unconditionally, from nothing.",
        "遮挡覆盖了整张图：模型将无条件地从零开始采样。",
    ),
    IgptEmptyCanvas => (
        "The canvas is empty (all black): the model completes a blank image.",
        "画布是空的（全黑）：模型将补全一张空白图像。",
    ),
    IgptProbeHint => (
        "Fits a linear classifier (closed-form ridge regression) on the mean-pooled hidden states of labelled Fashion-MNIST test images, and scores it on others — for every layer of both models, next to the same probe on raw pixels",
        "在带标签的 Fashion-MNIST 测试图像的平均池化隐藏状态上拟合一个线性分类器（闭式岭回归），再在另外的图像上评估——两个模型的每一层都做一次，并与直接用原始像素的同一探针对比",
    ),
    IgptProbeRun => ("Run the linear probe", "运行线性探针"),
    IgptProbeFit => ("to fit", "张用于拟合"),
    IgptProbeTest => ("to test", "张用于测试"),
    IgptProbeFeatures => ("features", "特征"),
    IgptProbeAccuracy => ("test accuracy", "测试准确率"),
    IgptModels => ("Models", "模型"),
    IgptParams => ("parameters each", "参数（每个）"),
    BertIntro => (
        "BERT reads [CLS] sentence A [SEP] (sentence B [SEP]); each token's input is the sum of its token, segment and position embeddings. It was pretrained by masked-LM (15% of tokens selected; of those 80% become [MASK], 10% a random token, 10% stay; predict the originals) and next-sentence prediction (a binary classifier on C, the [CLS] output). Everything below runs in your browser.",
        "BERT 的输入是 [CLS] 句子 A [SEP]（句子 B [SEP]）；每个词元的输入是其词元、片段和位置三种嵌入之和。它通过掩码语言模型（选中 15% 的词元；其中 80% 换成 [MASK]，10% 换成随机词元，10% 保持不变；预测原词）和下一句预测（在 [CLS] 的输出 C 上做二分类）进行预训练。下面的一切都在你的浏览器中运行。",
    ),
    BertModel => ("Model", "模型"),
    BertBundled => ("Bundled: all-MiniLM-L6-v2 + Pretext's MLM head (offline)", "内置：all-MiniLM-L6-v2 + Pretext 训练的 MLM 头（可离线）"),
    BertBundledNote => (
        "The bundled model is the all-MiniLM-L6-v2 encoder with masked-LM and next-sentence heads that this project trained (with its top 2 layers) on 3.2 million tokens of State of the Union speeches. On [MASK]ed words of speeches it never saw, its first guess is right 23.4% of the time and one of its top 5 is right 40.2% of the time; it tells a real next sentence from a random one 69.1% of the time (chance: 50%). Expect words of political prose, not a full BERT. The Hugging Face presets load Google's original BERT when you are online.",
        "内置模型是 all-MiniLM-L6-v2 编码器，加上本项目在 320 万个词元的美国国情咨文语料上训练的掩码语言模型头和下一句预测头（同时微调了最上面 2 层）。在未见过的演讲中被 [MASK] 遮住的词上，它的第一个猜测正确率为 23.4%，前 5 个猜测中包含正确答案的比例为 40.2%；区分真实下一句与随机句子的准确率为 69.1%（随机猜测为 50%）。它更熟悉政治演说的词汇，并不是完整的 BERT。联网时，Hugging Face 预设可加载 Google 原版 BERT。",
    ),
    BertFromUrl => ("Load from a URL…", "从网址加载…"),
    BertUrlLabel => ("URL of a folder with config.json, tokenizer.json or vocab.txt, and model.safetensors", "包含 config.json、tokenizer.json 或 vocab.txt 以及 model.safetensors 的文件夹网址"),
    BertLoad => ("Load", "加载"),
    BertModelNow => ("Running", "当前模型"),
    BertModelKept => ("The previous model is still in use.", "仍在使用之前的模型。"),
    BertPreparing => ("Preparing the model on the device…", "正在设备上准备模型…"),
    BertLayers => ("layers", "层"),
    BertWide => ("wide", "维"),
    BertHeads => ("heads", "个注意力头"),
    BertStep1 => ("1 · Fill in the [MASK]", "1 · 填空：预测 [MASK]"),
    BertInputLabel => ("Sentence; type [MASK] where a word should be guessed", "句子；在需要猜测的位置输入 [MASK]"),
    BertEmpty => ("Type a sentence to start.", "请输入一个句子。"),
    BertNoMask => ("No [MASK] yet: type [MASK] into the sentence, or click a word below to mask it.", "还没有 [MASK]：在句子中输入 [MASK]，或点击下方的词把它遮住。"),
    BertTruncated1 => ("Your text has", "你的文本有"),
    BertTruncated2 => ("tokens; BERT reads at most 512, so the end was cut off.", "个词元；BERT 最多读取 512 个，超出的部分已被截断。"),
    BertStripHint => ("WordPieces with [CLS]/[SEP]: click a word to mask all of its pieces (click the [MASK] again to put it back); the small button shows the token's segment and opens its three input embeddings.", "带 [CLS]/[SEP] 的 WordPiece 词元：点击一个词会遮住它的所有子词（再次点击 [MASK] 可恢复）；小按钮显示该词元的片段编号，并展开它的三种输入嵌入。"),
    BertPosition => ("position", "位置"),
    BertSegment => ("segment", "片段"),
    BertShowParts => ("Show the input embeddings of", "显示输入嵌入："),
    BertEmbeddingOf => ("Input embedding of", "输入嵌入："),
    BertTokenEmbedding => ("token", "词元嵌入"),
    BertSegmentEmbedding => ("segment", "片段嵌入"),
    BertPositionEmbedding => ("position", "位置嵌入"),
    BertPartsHint => ("Their sum, after LayerNorm, is what the first layer sees. First 96 of", "三者之和经 LayerNorm 后送入第一层。显示前 96 维，共"),
    BertDims => ("dimensions shown (blue negative, red positive).", "维（蓝为负，红为正）。"),
    BertStep2 => ("2 · The masked-LM rule, live", "2 · 掩码语言模型的规则，现场演示"),
    BertRuleHint => ("Make a training example from the sentence above: 15% of its tokens are selected ([CLS], [SEP] never); of those, 80% become [MASK], 10% a random token, 10% stay as they are — and all selected ones are predicted.", "用上面的句子制作一个训练样本：选中 15% 的词元（[CLS]、[SEP] 永不选中）；其中 80% 换成 [MASK]，10% 换成随机词元，10% 保持不变——所有被选中的都要预测。"),
    BertCorrupt => ("Make a training example", "制作一个训练样本"),
    BertCorruptMany => ("Draw 1000 more", "再抽 1000 次"),
    BertCorruptNone => ("No draws yet.", "尚未抽样。"),
    BertRandom10 => ("random 10%", "随机词元 10%"),
    BertSame10 => ("unchanged 10%", "保持不变 10%"),
    BertKeptSame => ("kept, still predicted", "保持不变，仍需预测"),
    BertDraws => ("draws", "次抽样"),
    BertSelected => ("selected", "选中"),
    BertOf => ("of", "，共"),
    BertRandom => ("random", "随机"),
    BertUnchanged => ("unchanged", "不变"),
    BertStep3 => ("3 · Next-sentence prediction", "3 · 下一句预测"),
    BertNspHint => ("Is B the sentence that follows A? The NSP head reads C, the [CLS] output of [CLS] A [SEP] B [SEP].", "B 是紧接在 A 之后的句子吗？NSP 头读取 [CLS] A [SEP] B [SEP] 中 [CLS] 的输出 C。"),
    BertNspReal => ("Draw a real pair", "抽取真实的相邻句对"),
    BertNspRandom => ("Draw a random pair", "抽取随机句对"),
    BertNspEmpty => ("Type both sentences.", "请输入两个句子。"),
    BertStep4 => ("4 · Attention", "4 · 注意力"),
    BertAttention => ("Show the attention maps of the sentence", "显示句子的注意力图"),
    BertAttentionHint => ("Row i: how much token i attends to each token (each row sums to 1). Hover a cell for its weight.", "第 i 行：词元 i 对每个词元的注意力权重（每行之和为 1）。把鼠标悬停在格子上查看权重。"),
    BertLayer => ("layer", "层"),
    BertHead => ("head", "头"),
    BertStep5 => ("5 · Watch BERT learn", "5 · 看 BERT 学习"),
    BertLearnIntro => ("A tiny BERT (2 layers, 64 wide, only the words of a short text) learns masked-LM from scratch, here in your browser. Watch the loss fall and its guesses for the probe sentence move from frequent words to words that fit the context.", "一个很小的 BERT（2 层、64 维，只认识一段短文中的词）在你的浏览器里从零开始学习掩码语言模型。看损失下降，以及它对探测句的猜测如何从高频词变成符合上下文的词。"),
    BertLearnProbe => ("Probe sentence", "探测句"),
    BertLearnNoMask => ("The probe sentence needs a [MASK].", "探测句中需要有 [MASK]。"),
    BertLearnStart => ("Start training", "开始训练"),
    BertLearnPause => ("Pause", "暂停"),
    BertLearnResume => ("Resume", "继续"),
    BertLearnReset => ("Reset", "重置"),
    BertLearnAfter => ("After step", "第几步后"),
    BertSteps => ("steps", "步"),
    BertStepsPerSecond => ("steps/s", "步/秒"),
    BertParams => ("parameters", "个参数"),
}

/// The text in the given language.
pub fn tr(lang: Lang, text: Text) -> &'static str {
    let (en, zh) = pair(text);
    match lang {
        Lang::En => en,
        Lang::Zh => zh,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_has_both_languages_and_chinese_is_translated() {
        for &t in Text::ALL {
            let (en, zh) = pair(t);
            assert!(!en.trim().is_empty(), "{t:?} has no English");
            assert!(!zh.trim().is_empty(), "{t:?} has no Chinese");
            // Names of backends and tokens stay as they are; prose must differ.
            let same_ok = matches!(t, Text::BackendCpu | Text::BackendWebGpu);
            assert!(same_ok || en != zh, "{t:?} is not translated");
        }
    }

    #[test]
    fn language_tags_round_trip() {
        for l in [Lang::En, Lang::Zh] {
            assert_eq!(Lang::from_tag(l.tag()), Some(l));
            assert_eq!(l.other().other(), l);
        }
        assert_eq!(Lang::from_tag("zh-TW"), Some(Lang::Zh));
        assert_eq!(Lang::from_tag("fr"), None);
    }

    #[test]
    fn switch_label_names_the_other_language() {
        assert_eq!(tr(Lang::En, Text::SwitchLanguage), "中文");
        assert_eq!(tr(Lang::Zh, Text::SwitchLanguage), "English");
    }
}
